{{/* A hook pod running one of the operator image's chart subcommands: args, then the context. */}}
{{- define "engram-operator.hookPod" -}}
{{- $ := .context -}}
apiVersion: v1
kind: Pod
metadata:
  name: {{ .name }}
  namespace: {{ $.Release.Namespace }}
  labels:
    {{- include "engram-operator.hookLabels" $ | nindent 4 }}
  annotations:
    {{- toYaml .annotations | nindent 4 }}
spec:
  restartPolicy: Never
  serviceAccountName: {{ include "engram-operator.hooksServiceAccountName" $ }}
  {{- with $.Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    runAsNonRoot: true
    runAsUser: 65532
    runAsGroup: 65532
    seccompProfile: { type: RuntimeDefault }
  containers:
    - name: {{ .container }}
      image: {{ include "engram-operator.image" $ }}
      imagePullPolicy: {{ $.Values.image.pullPolicy }}
      args:
        {{- toYaml .args | nindent 8 }}
      resources:
        requests: { cpu: 10m, memory: 64Mi }
        limits: { memory: 256Mi }
      securityContext:
        allowPrivilegeEscalation: false
        readOnlyRootFilesystem: true
        capabilities: { drop: [ALL] }
  {{- with $.Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $.Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}
