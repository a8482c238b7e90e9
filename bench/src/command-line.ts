// Every benchmark's flags: parsed strictly, `--help` (or `-h`) prints what it takes and exits 0, and
// a flag it does not know is named on stderr with the usage (exit 2), never a stack trace.
import { basename } from 'node:path';
import { parseArgs } from 'node:util';

type Flag = { type: 'string'; default?: string; multiple?: false } | { type: 'string'; default?: string[]; multiple: true } | { type: 'boolean'; default?: boolean };
type Values<O extends Record<string, Flag>> = {
  [K in keyof O]: O[K] extends { type: 'boolean' } ? boolean : O[K] extends { multiple: true } ? string[] : O[K] extends { default: string } ? string : string | undefined;
};

export interface CommandLine {
  /** What the benchmark does, for --help. */
  description: string;
  /** What each flag means, for --help. */
  help: Record<string, string>;
}

export function commandLine<O extends Record<string, Flag>>(flags: O, about: CommandLine): Values<O> {
  const program = `node bench/dist/${basename(process.argv[1] ?? 'bench.js')}`;
  const usage = [
    `usage: ${program} [flags]`, '', about.description, '',
    ...Object.entries(flags).map(([name, flag]) => {
      const value = flag.type === 'boolean' ? '' : ' VALUE';
      const fallback = flag.default === undefined || flag.default === false ? '' : ` (default ${Array.isArray(flag.default) ? (flag.default.join(',') || 'none') : String(flag.default)})`;
      return `  --${name}${value}  ${about.help[name] ?? ''}${fallback}`;
    }),
    '  --help  print this and exit', '',
  ].join('\n');
  try {
    const options: Record<string, Flag & { short?: string }> = { ...flags, help: { type: 'boolean', short: 'h', default: false } };
    const values = parseArgs({ options, strict: true, allowPositionals: false }).values as Record<string, unknown>;
    if (values.help) {
      process.stdout.write(usage);
      process.exit(0);
    }
    return values as Values<O>;
  } catch (e) {
    if (e instanceof TypeError && 'code' in e && String(e.code).startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`${program}: ${e.message}\n\n${usage}`);
      process.exit(2);
    }
    throw e;
  }
}
