"""Channel settings shared by the sync and asyncio clients."""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

import grpc

MAX_MESSAGE_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class TLS:
    """PEM contents (not paths). `ca` verifies the engine; `cert` and `key` are for engines that
    ask for a client certificate; `server_name` overrides the name checked in the engine's certificate."""

    ca: Optional[bytes] = None
    cert: Optional[bytes] = None
    key: Optional[bytes] = None
    server_name: Optional[str] = None


def channel_credentials(tls: TLS) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(root_certificates=tls.ca, private_key=tls.key, certificate_chain=tls.cert)


def channel_options(tls: Optional[TLS]) -> List[Tuple[str, object]]:
    options: List[Tuple[str, object]] = [("grpc.max_receive_message_length", MAX_MESSAGE_BYTES), ("grpc.max_send_message_length", MAX_MESSAGE_BYTES)]
    if tls and tls.server_name:
        options += [("grpc.ssl_target_name_override", tls.server_name), ("grpc.default_authority", tls.server_name)]
    return options
