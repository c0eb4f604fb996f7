"""Fixtures of the storage-credential tests: moto's S3 server in its own process with IAM checks on, so
requests with unknown keys are refused, holding an iris model that only the right keys can read."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest
from credentials_support import BUCKET, PREFIX, SecuredS3
from support.waiting import wait_until


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def secured_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredS3]:
    import boto3
    import httpx

    from zeroserve.servers.testing import train_iris_sklearn

    port = _free_port()
    # the first 3 requests (making the user, its key and its policy) need no signature; all others do
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "3"}
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"moto server exited with {process.returncode}")
        try:
            return httpx.get(f"{url}/moto-api/", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(up, 30, interval=0.1)
        anonymous = {"endpoint_url": url, "region_name": "us-east-1"}
        iam = boto3.client("iam", aws_access_key_id="setup", aws_secret_access_key="setup", **anonymous)
        iam.create_user(UserName="loader")
        key = iam.create_access_key(UserName="loader")["AccessKey"]
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
        }
        iam.put_user_policy(UserName="loader", PolicyName="s3", PolicyDocument=json.dumps(policy))
        s3 = boto3.client(
            "s3",
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=key["SecretAccessKey"],
            **anonymous,
        )
        s3.create_bucket(Bucket=BUCKET)
        folder = tmp_path_factory.mktemp("iris")
        train_iris_sklearn(folder)
        s3.upload_file(str(folder / "model.joblib"), BUCKET, f"{PREFIX}/model.joblib")
        yield SecuredS3(url, key["AccessKeyId"], key["SecretAccessKey"])
    finally:
        process.terminate()
        process.wait(10)
