"""The issue's "done when" cases for ingestion: a 200-page PDF with progress and a page-150
citation; a corrupt PDF fails with a reason; a real Celery worker killed mid-document and a
new one started finishes the document exactly once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile

from knowledge import services
from knowledge.chunking import chunk_sections
from knowledge.models import Chunk, Document, DocumentStatus
from knowledge.parsing import parse
from knowledge.search import search
from knowledge.tests.pdfgen import make_pdf

_WORDS = [
    "system",
    "report",
    "quarter",
    "revenue",
    "pipeline",
    "customer",
    "module",
    "service",
    "network",
    "storage",
    "policy",
    "review",
    "audit",
    "budget",
    "forecast",
    "vendor",
    "contract",
    "deadline",
    "release",
    "schedule",
    "incident",
    "backup",
    "latency",
    "capacity",
    "region",
    "cluster",
]


def _filler_pages(count: int, seed: int = 7) -> list[list[str]]:
    rng = random.Random(seed)
    pages = []
    for number in range(1, count + 1):
        lines = [f"Section {number}: operations notes"]
        for _ in range(12):
            lines.append(" ".join(rng.choice(_WORDS) for _ in range(10)).capitalize() + ".")
        pages.append(lines)
    return pages


def test_a_200_page_pdf_shows_progress_ends_ready_and_cites_page_150(
    collection_a, ingest, progress_events
):
    pages = _filler_pages(200)
    pages[149] += [
        "The Kestrel turbine must be recalibrated every 412 operating hours.",
        "Its calibration torque is 7.31 newton metres.",
    ]
    document = ingest(collection_a, "operations-manual.pdf", make_pdf(pages))

    assert document.status == DocumentStatus.READY, document.error
    assert document.page_count == 200
    assert (
        document.chunks_done
        == document.chunks_total
        == Chunk.objects.filter(document=document).count()
    )
    assert document.chunks_total >= 200
    progress = [e for e in progress_events if e["signal"] == "progress"]
    embedding_steps = [e["chunks_done"] for e in progress if e["status"] == "embedding"]
    assert len(embedding_steps) >= 3  # progress was reported batch by batch
    assert embedding_steps == sorted(embedding_steps)
    assert progress[-1]["status"] == "ready"
    assert progress[-1]["chunks_done"] == document.chunks_total

    for mode in ("hybrid", "vector", "words"):
        hits = search(
            team_id=collection_a.team_id,
            query="How often does the Kestrel turbine need recalibration?",
            mode=mode,
        )
        assert hits[0].page == 150, (mode, hits[0])
        assert hits[0].document_name == "operations-manual.pdf"
        assert "412 operating hours" in hits[0].text


def test_a_corrupt_pdf_ends_failed_with_a_reason(collection_a, ingest):
    data = bytearray(make_pdf(_filler_pages(5)))
    data[40:400] = b"\x00" * 360  # trample the objects' bodies
    document = ingest(collection_a, "corrupt.pdf", bytes(data[: len(data) // 2]))
    assert document.status == DocumentStatus.FAILED
    assert "PDF" in document.error
    assert not Chunk.objects.filter(document=document).exists()


class _Workers:
    """Real ``celery -A config worker`` processes on the test database and Redis db."""

    def __init__(self, database_url: str, media_root: str) -> None:
        self.database_url = database_url
        self.media_root = media_root
        self.processes: list[tuple[subprocess.Popen, str]] = []

    def start(self, *extra: str, **env_overrides: str) -> subprocess.Popen:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.django.test",
            "KNOWLEDGE_FILE_ROOT": self.media_root,
            "GENAI_TEST_SERVER_PROCESS": "1",
            "GENAI_CELERY_EAGER": "0",
            "DATABASE_URL": self.database_url,
            "REDIS_URL": django_settings.REDIS_URL.split("?")[0]
            if django_settings.EMBEDDED_REDIS
            else django_settings.REDIS_URL,
            **env_overrides,
        }
        log = tempfile.NamedTemporaryFile(prefix="worker-", suffix=".log", delete=False)  # noqa: SIM115
        process = subprocess.Popen(  # noqa: S603 - fixed argv: this interpreter running celery
            [sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel", "INFO",
             "--pool", "prefork", "--concurrency", "1", "--without-gossip", "--without-mingle",
             "--hostname", f"test-{uuid.uuid4().hex[:8]}@%h", *extra],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        self.processes.append((process, log.name))
        return process

    def kill(self, process: subprocess.Popen) -> None:
        """SIGKILL the worker and its pool children: no warm shutdown, no cleanup."""
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def output(self) -> str:
        return "\n".join(f"--- {name}\n{open(name).read()[-4000:]}" for _, name in self.processes)

    def stop_all(self) -> None:
        for process, _ in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process, _ in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.fixture
def workers(transactional_db, settings, tmp_path):
    from conftest import _test_database_url, wait_for_quiet_database
    from knowledge.tasks import ingest_document

    app = ingest_document.app  # the project's Celery app (knowledge may not import config)

    # This test's uploads go to the broker for real, not inline.
    app.conf.task_always_eager = False
    pool = _Workers(_test_database_url(), str(settings.MEDIA_ROOT))
    yield pool
    pool.stop_all()
    app.conf.task_always_eager = True
    wait_for_quiet_database()


def _wait_for(predicate, *, timeout: float, what: str, workers: _Workers):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}; worker output:\n{workers.output()}")


def test_a_worker_killed_mid_document_and_a_new_one_finish_it_exactly_once(world, workers):
    collection = services.collection_create(team=world.team_a, name="Manuals")
    pages = _filler_pages(60, seed=11)
    data = make_pdf(pages)
    slow = {
        "KNOWLEDGE_EMBEDDING_BATCH_SIZE": "8",
        "KNOWLEDGE_EMBED_DELAY_MS": "700",
        "KNOWLEDGE_LEASE_SECONDS": "4",
        "CELERY_VISIBILITY_TIMEOUT_SECONDS": "8",
    }
    first = workers.start(**slow)
    document = services.document_upload(
        collection=collection, uploaded_file=SimpleUploadedFile("manual.pdf", data)
    )

    def mid_embedding():
        row = Document.objects.get(pk=document.pk)
        return row if row.status == DocumentStatus.EMBEDDING and row.chunks_done >= 16 else None

    row = _wait_for(
        mid_embedding, timeout=240, what="the first worker to be embedding", workers=workers
    )
    assert row.chunks_done < row.chunks_total
    workers.kill(first)
    row.refresh_from_db()
    assert row.status == DocumentStatus.EMBEDDING  # not ready, not half-indexed
    assert not Chunk.objects.filter(document=document).exists()

    # A new worker (with beat, whose sweep re-queues documents with an expired lease).
    workers.start(
        "--beat",
        **{**slow, "KNOWLEDGE_EMBED_DELAY_MS": "0", "KNOWLEDGE_SWEEP_INTERVAL_SECONDS": "2"},
    )

    def ready():
        row = Document.objects.get(pk=document.pk)
        return row if row.status in (DocumentStatus.READY, DocumentStatus.FAILED) else None

    row = _wait_for(ready, timeout=240, what="the document to be ready", workers=workers)
    assert row.status == DocumentStatus.READY, row.error
    expected = chunk_sections(
        parse(data=data, file_type="pdf", max_pages=1000).sections,
        max_tokens=django_settings.KNOWLEDGE_CHUNK_TOKENS,
        overlap_tokens=django_settings.KNOWLEDGE_CHUNK_OVERLAP_TOKENS,
    )
    chunks = list(Chunk.objects.filter(document=document).order_by("chunk_index"))
    assert len(chunks) == len(expected) == row.chunks_total == row.chunks_done
    assert [c.chunk_index for c in chunks] == list(range(len(expected)))
    assert [c.text for c in chunks] == [d.text for d in expected]
    assert row.attempts == 2  # the killed attempt and the one that finished
    # Any later delivery of the same task finds nothing to do.
    time.sleep(3)
    assert Chunk.objects.filter(document=document).count() == len(expected)
    assert Document.objects.get(pk=document.pk).attempts == 2
