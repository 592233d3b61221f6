"""Real object-store servers for tests, on 127.0.0.1 with free ports, bounded waits, always stopped.

* :class:`MotoS3` — the S3 API through ``moto_server`` (``moto[server]``).
* :class:`GcsEmulator` — ``gcp-storage-emulator`` (it ignores generation preconditions).
* :class:`Azurite` — Azure Blob through Azurite, installed by ``scripts/test`` into ``.ci-node/``.

Each gives ``storage_options`` for fsspec and ``env`` for processes that use the store's standard
environment variables.
"""

from __future__ import annotations

import shutil
import sys
import uuid
from pathlib import Path
from typing import Dict, List, Optional

from .serverproc import ServerProcess

ROOT = Path(__file__).resolve().parents[2]  # the checkout
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


class Server(ServerProcess):
    """An object-store emulator: ready once its port answers."""


class MotoS3(Server):
    """``moto_server`` speaking the S3 API; ``bucket()`` creates a fresh bucket."""

    name = "moto"

    def command(self) -> List[str]:
        return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]

    @property
    def env(self) -> Dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL_S3": self.endpoint, "S3_ENDPOINT": self.endpoint, "AWS_REGION": "us-east-1",
        }

    @property
    def storage_options(self) -> Dict[str, object]:
        return {"key": "testing", "secret": "testing", "endpoint_url": self.endpoint, "client_kwargs": {"region_name": "us-east-1"}}

    def bucket(self) -> str:
        import boto3

        name = "b" + uuid.uuid4().hex[:12]
        client = boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id="testing",
                              aws_secret_access_key="testing", region_name="us-east-1")
        client.create_bucket(Bucket=name)
        return name


class GcsEmulator(Server):
    """``gcp-storage-emulator`` (in memory); ``bucket()`` creates a fresh bucket."""

    name = "gcs"

    def command(self) -> List[str]:
        exe = Path(sys.executable).with_name("gcp-storage-emulator")
        return [str(exe), "start", "--host", "127.0.0.1", "--port", str(self.port), "--in-memory"]

    @property
    def storage_options(self) -> Dict[str, object]:
        return {"token": "anon", "endpoint_url": self.endpoint, "project": "test"}

    def bucket(self) -> str:
        import gcsfs

        name = "b" + uuid.uuid4().hex[:12]
        gcsfs.GCSFileSystem(**self.storage_options, skip_instance_cache=True).mkdir(name)
        return name


def azurite_executable() -> Optional[str]:
    """Azurite's blob server as ``scripts/test`` installs it (``.ci-node/``), or on PATH."""
    local = ROOT / ".ci-node" / "node_modules" / ".bin" / "azurite-blob"
    if local.exists():
        return str(local)
    return shutil.which("azurite-blob")


class Azurite(Server):
    """Azurite's blob service, data in a temporary ``--location``; ``container()`` makes a container."""

    name = "azurite"

    def command(self) -> List[str]:
        exe = azurite_executable()
        if exe is None:
            raise FileNotFoundError("azurite-blob not found: run scripts/test (it installs azurite@3.35.0 into .ci-node/)")
        return [exe, "--blobHost", "127.0.0.1", "--blobPort", str(self.port), "--location", self._tmp,
                "--skipApiVersionCheck", "--loose", "--silent"]

    @property
    def connection_string(self) -> str:
        return (f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
                f"BlobEndpoint={self.endpoint}/{AZURITE_ACCOUNT};")

    @property
    def storage_options(self) -> Dict[str, object]:
        return {"connection_string": self.connection_string}

    def container(self) -> str:
        from azure.storage.blob import BlobServiceClient

        name = "c" + uuid.uuid4().hex[:12]
        BlobServiceClient.from_connection_string(self.connection_string).create_container(name)
        return name
