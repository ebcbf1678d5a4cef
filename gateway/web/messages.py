"""What a page may send on the live socket, validated like any other input."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from gateway.auth.const import TOKEN_MAX_BYTES


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AuthMessage(_Message):
    """The first message: the bearer token (tokens are never put in the socket's URL)."""

    type: Literal["auth"]
    token: str = Field(min_length=1, max_length=TOKEN_MAX_BYTES)


class PingMessage(_Message):
    """An application-level ping; answered with a pong carrying the server time."""

    type: Literal["ping"]


ClientMessage = Annotated[AuthMessage | PingMessage, Field(discriminator="type")]
CLIENT_MESSAGE: TypeAdapter[AuthMessage | PingMessage] = TypeAdapter(ClientMessage)
