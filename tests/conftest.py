"""Shared fixtures: Apache Kafka and a real PostgreSQL for integration tests, started by the suite.

Kafka, in order of preference: ``SPENDWATCH_KAFKA`` if set; else a single-node Apache Kafka
(KRaft) started for the session from the Maven cache (``streams.kafka_local``; Java 17+ and
Maven, or an already filled cache); a Docker engine with testcontainers' Kafka is used instead
when ``SPENDWATCH_TEST_DOCKER_KAFKA=1``. Tests get fresh topics (a unique prefix) and groups.
``cluster3`` is a 3-node KRaft cluster for replication and failover tests (started on first
use, shared by the session; a test that kills a node gets it restarted afterwards).
``tansu_bootstrap`` is the in-memory Tansu broker, only for the tests of the fallback to
at-least-once on a broker without transactions.

PostgreSQL: ``SPENDWATCH_TEST_PG`` if set; else a private cluster (initdb + pg_ctl on a free
port, ``tests/pg_local.py``). Without PostgreSQL binaries the postgres tests skip, except
under CI (``CI`` set), where that is an error: ``make test`` installs them.

Markers: a test that uses a broker fixture is marked ``kafka``, one that uses a PostgreSQL
fixture ``postgres`` (:func:`pytest_collection_modifyitems`); a test that starts a broker or
picks a database by itself says so with the marker. ``make test-fast`` runs the rest
(``-m "not kafka and not postgres"``). A PostgreSQL or per-test broker fixture refuses a test
without the marker.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

KAFKA_FIXTURES = frozenset({"kafka_bootstrap", "kafka_local", "cluster3", "tansu_bootstrap"})
POSTGRES_FIXTURES = frozenset({"postgres_url", "pg_schema_url"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if used & KAFKA_FIXTURES:
            item.add_marker(pytest.mark.kafka)
        if used & POSTGRES_FIXTURES:
            item.add_marker(pytest.mark.postgres)


def _require_marker(request: pytest.FixtureRequest, marker: str) -> None:
    """A fixture reached by ``getfixturevalue`` escapes the collection hook: the test must be marked."""
    if request.node.get_closest_marker(marker) is None:
        pytest.fail(f"{request.node.nodeid} uses the {request.fixturename} fixture without @pytest.mark.{marker}",
                    pytrace=False)


def _docker_kafka() -> Iterator[str]:
    from testcontainers.kafka import KafkaContainer  # type: ignore[import-untyped]

    with KafkaContainer() as kafka:
        yield kafka.get_bootstrap_server()


@pytest.fixture(scope="session")
def kafka_local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The session's single-node Apache Kafka (a :class:`streams.kafka_local.KafkaCluster`)."""
    from streams.kafka_local import KafkaCluster

    with KafkaCluster(1, tmp_path_factory.mktemp("kafka1")) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def kafka_bootstrap(request: pytest.FixtureRequest) -> Iterator[str]:
    """Bootstrap address of a real Apache Kafka for this test session."""
    given = os.environ.get("SPENDWATCH_KAFKA")
    if given:
        yield given
    elif os.environ.get("SPENDWATCH_TEST_DOCKER_KAFKA") == "1" and shutil.which("docker"):
        yield from _docker_kafka()
    else:
        yield request.getfixturevalue("kafka_local").bootstrap


@pytest.fixture(scope="session")
def _cluster3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from streams.kafka_local import KafkaCluster

    cluster = KafkaCluster(3, tmp_path_factory.mktemp("kafka3"), heap="384m").start()
    try:
        yield cluster
    finally:
        cluster.stop(timeout_s=5.0)  # three nodes shutting down at once wait on each other: do not linger


@pytest.fixture
def cluster3(_cluster3: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A 3-node Apache Kafka KRaft cluster (``.bootstrap``, ``.kill(i)``, ``.restart(i)``); every node
    is running again when the test ends."""
    _require_marker(request, "kafka")
    yield _cluster3
    for i, node in enumerate(_cluster3.nodes):
        if node.process is None or node.process.poll() is not None:
            _cluster3.restart(i)


@pytest.fixture
def tansu_bootstrap(request: pytest.FixtureRequest) -> Iterator[str]:
    """An in-memory Tansu broker of its own (no transactions: the at-least-once fallback)."""
    from streams.broker import LocalBroker

    _require_marker(request, "kafka")
    with LocalBroker() as broker:
        yield broker.bootstrap


@pytest.fixture
def unique() -> str:
    """A short unique suffix for topic prefixes and group ids (fresh topics and groups per test)."""
    return uuid.uuid4().hex[:10]


def _no_postgres(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run the PostgreSQL tests (make test installs Debian's postgresql)")
    pytest.skip(f"{reason}; set SPENDWATCH_TEST_PG or install PostgreSQL to run these tests")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a PostgreSQL: SPENDWATCH_TEST_PG, else a private cluster started for the session."""
    given = os.environ.get("SPENDWATCH_TEST_PG")
    if given:
        try:
            import psycopg

            with psycopg.connect(given.replace("postgresql+psycopg://", "postgresql://"), connect_timeout=3):
                pass
        except Exception as exc:  # noqa: BLE001 - any failure means "not reachable here"
            _no_postgres(f"PostgreSQL not reachable at SPENDWATCH_TEST_PG={given} ({exc.__class__.__name__}: {exc})")
        yield given
        return
    from tests.pg_local import LocalPostgres, pg_bindir

    bindir = pg_bindir()
    if bindir is None:
        _no_postgres("no PostgreSQL binaries (initdb, pg_ctl) found")
        return
    try:
        pg = LocalPostgres(bindir).start()
    except Exception as exc:  # noqa: BLE001 - reported as a skip (or a CI failure) with the reason
        _no_postgres(f"could not start a private PostgreSQL from {bindir}: {exc}")
        return
    try:
        yield pg.url
    finally:
        pg.stop()


@pytest.fixture
def pg_schema_url(postgres_url: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards (tests share one database)."""
    import sqlalchemy as sa

    _require_marker(request, "postgres")
    schema = f"sw_test_{uuid.uuid4().hex[:10]}"
    base = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    admin = sa.create_engine(base.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
