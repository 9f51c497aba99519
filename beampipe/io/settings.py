"""Object-store settings from the environment, as boto3, s3fs and the AWS CLI read them.

Secrets never enter the IR, a compiled DAG or YAML: every task reads them from its own
environment at run time (Kubernetes Secrets, Airflow connections exported as env vars).
So this module is the one place that reads them, and it also hands them on to Beam,
whose S3 filesystem takes its settings as pipeline options (``--s3_endpoint_url`` ...)
because remote Beam workers do not share the launcher's environment.

The secret must not reach a log: :class:`S3Settings` leaves it out of its repr, the Beam
argument list masks it in its repr, and :func:`redact` scrubs it from any text.
"""
from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

MASK = "***"
# The Beam flags that carry a secret (masked in reprs, never logged).
_SECRET_FLAGS = ("--s3_secret_access_key", "--s3_session_token")


@dataclass(frozen=True)
class S3Settings:
    """What an S3 client needs; ``None`` means "let botocore's own chain decide"
    (shared config files, AWS_PROFILE, an instance or pod role)."""

    endpoint_url: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    region: str | None = None
    profile: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> S3Settings:
        """Read the standard variables. ``AWS_ENDPOINT_URL_S3`` wins over ``AWS_ENDPOINT_URL``,
        as in botocore; ``AWS_REGION`` over ``AWS_DEFAULT_REGION``."""
        env = os.environ if env is None else env

        def get(*names: str) -> str | None:
            for name in names:
                value = env.get(name, "").strip()
                if value:
                    return value
            return None

        return cls(endpoint_url=get("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"),
                   access_key_id=get("AWS_ACCESS_KEY_ID"),
                   secret_access_key=get("AWS_SECRET_ACCESS_KEY"),
                   session_token=get("AWS_SESSION_TOKEN"),
                   region=get("AWS_REGION", "AWS_DEFAULT_REGION"),
                   profile=get("AWS_PROFILE"))

    @property
    def endpoint_label(self) -> str:
        """How error messages name the server: the endpoint URL, never a credential."""
        return self.endpoint_url or "AWS S3 (default endpoint)"

    def s3fs_kwargs(self) -> dict[str, object]:
        """Keyword arguments for ``s3fs.S3FileSystem``.

        botocore 1.41 (pinned) reads AWS_ENDPOINT_URL by itself, but we pass every value
        explicitly anyway: the filesystem is cached per settings, so a changed environment
        (another task, a test) gets a new client instead of a stale one.
        """
        client: dict[str, object] = {}
        if self.region:
            client["region_name"] = self.region
        kwargs: dict[str, object] = {"client_kwargs": client}
        if self.endpoint_url:
            kwargs["endpoint_url"] = self.endpoint_url
        if self.access_key_id or self.secret_access_key:
            kwargs["key"] = self.access_key_id
            kwargs["secret"] = self.secret_access_key
        if self.session_token:
            kwargs["token"] = self.session_token
        if self.profile and not self.access_key_id:
            kwargs["profile"] = self.profile
        return kwargs

    def secrets(self) -> list[str]:
        return [s for s in (self.secret_access_key, self.session_token) if s]


class SecretArgs(list):
    """A list of command-line arguments whose repr masks secret values.

    Beam args end up in log lines and error messages (``f"... {args}"``); with this list
    such a line shows ``--s3_secret_access_key=***``. Joining the items by hand still
    shows them: pass the list to Beam, do not print it.
    """

    def __repr__(self) -> str:
        return repr([_mask_arg(a) for a in self])

    __str__ = __repr__


def _mask_arg(arg: str) -> str:
    for flag in _SECRET_FLAGS:
        if arg.startswith(flag + "="):
            return f"{flag}={MASK}"
    return arg


def beam_s3_options(env: Mapping[str, str] | None = None) -> SecretArgs:
    """Beam's S3 pipeline options for the settings in the environment.

    Beam's S3 filesystem (apache_beam.io.aws, boto3) builds its client from these options;
    in-process it would also find the environment, but workers of a portable, Flink,
    Spark or Dataflow runner do not have it. Only the settings that are present are given.
    Note that a runner may show its options in its UI (Dataflow does): on Dataflow prefer
    a worker service account to passing keys.
    """
    s = S3Settings.from_env(env)
    args = SecretArgs()
    for flag, value in (("--s3_endpoint_url", s.endpoint_url), ("--s3_access_key_id", s.access_key_id),
                        ("--s3_secret_access_key", s.secret_access_key),
                        ("--s3_session_token", s.session_token), ("--s3_region_name", s.region)):
        if value:
            args.append(f"{flag}={value}")
    return args


def with_beam_s3_options(beam_args: Iterable[str], env: Mapping[str, str] | None = None) -> SecretArgs:
    """``beam_args`` plus the environment's S3 options that the args do not already set
    (a user's explicit ``--s3_endpoint_url=...`` wins)."""
    args = SecretArgs(beam_args)
    given = {a.split("=", 1)[0] for a in args if a.startswith("--s3_")}
    args.extend(a for a in beam_s3_options(env) if a.split("=", 1)[0] not in given)
    return args


def redact(text: str, env: Mapping[str, str] | None = None) -> str:
    """``text`` with the environment's storage secrets replaced by ``***``.

    For messages that quote a server or a library (which may echo what they were given)."""
    for secret in S3Settings.from_env(env).secrets():
        if len(secret) >= 4:  # masking 1-3 characters would mangle ordinary text
            text = text.replace(secret, MASK)
    return text
