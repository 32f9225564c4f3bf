"""model-explorer cache ls|rm|prune: JSON shapes, confirmation, exit codes."""

from __future__ import annotations

import io
import json
import os

from huggingface_hub import scan_cache_dir

from explorer import cli
from tests.core.hub_layout import HubRepo, commit_hash
from tests.core.test_cache_manage import C1, C2, C3, D1, build_cache


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def run(capsys, *words):
    status = cli.main(list(words))
    out, err = capsys.readouterr()
    return status, out, err


def test_ls_json_lists_repos_in_the_chosen_order(tmp_path, capsys):
    cache = build_cache(tmp_path)
    status, out, _ = run(capsys, "cache", "ls", "--hub-cache", str(cache), "--json")
    repos = json.loads(out)
    assert status == 0 and [r["id"] for r in repos] == ["org/a", "org/b", "org/c"]  # biggest first
    for repo in repos:
        assert set(repo) == {"id", "size_bytes", "revisions", "last_accessed", "last_modified"}
    hf = {r.repo_id: r for r in scan_cache_dir(cache).repos}
    assert {r["id"]: (r["size_bytes"], r["revisions"], r["last_modified"]) for r in repos} == {
        i: (r.size_on_disk, len(r.revisions), r.last_modified) for i, r in hf.items()
    }
    _, out, _ = run(capsys, "cache", "ls", "--hub-cache", str(cache), "--json", "--sort", "name")
    assert [r["id"] for r in json.loads(out)] == ["org/a", "org/b", "org/c"]
    _, out, _ = run(capsys, "cache", "ls", "--hub-cache", str(cache), "--json", "--sort", "size:asc")
    assert [r["id"] for r in json.loads(out)] == ["org/c", "org/b", "org/a"]
    os.utime(HubRepo(cache, "org/c").path / "blobs" / os.listdir(HubRepo(cache, "org/c").path / "blobs")[0], (2e9, 1e9))
    _, out, _ = run(capsys, "cache", "ls", "--hub-cache", str(cache), "--json", "--sort", "accessed")
    assert json.loads(out)[0]["id"] == "org/c" and json.loads(out)[0]["last_accessed"] == 2e9


def test_ls_table_and_a_bad_sort_key(tmp_path, capsys):
    cache = build_cache(tmp_path)
    status, out, _ = run(capsys, "cache", "ls", "--hub-cache", str(cache), "--filter", "b")
    assert status == 0 and out.splitlines()[0].split()[:3] == ["ID", "SIZE", "REVISIONS"]
    assert "org/b" in out and "org/a" not in out and "interrupted downloads" in out
    try:
        cli.main(["cache", "ls", "--sort", "colour"])
    except SystemExit as exit:
        assert exit.code == 2


def test_ls_of_a_missing_cache_is_empty(tmp_path, capsys):
    status, out, err = run(capsys, "cache", "ls", "--hub-cache", str(tmp_path / "none"), "--json")
    assert status == 0 and json.loads(out) == [] and "no hub cache" in err


def test_rm_dry_run_json_is_the_plan_and_deletes_nothing(tmp_path, capsys):
    cache = build_cache(tmp_path)
    status, out, _ = run(capsys, "cache", "rm", f"org/a@{C2}", "org/b", "--hub-cache", str(cache), "--dry-run", "--json")
    plan = json.loads(out)
    strategy = scan_cache_dir(cache).delete_revisions(C2, D1)
    assert status == 0 and set(plan) == {"freed_bytes", "delete"}
    assert plan["freed_bytes"] == strategy.expected_freed_size
    assert set(plan["delete"]) == {str(p) for p in (*strategy.repos, *strategy.snapshots, *strategy.refs, *strategy.blobs)}
    assert all(os.path.lexists(p) for p in plan["delete"])


def test_rm_dry_run_text_names_revisions_paths_and_total(tmp_path, capsys):
    cache = build_cache(tmp_path)
    status, out, _ = run(capsys, "cache", "rm", "org/a@main", "--hub-cache", str(cache), "--dry-run")
    assert status == 0 and f"org/a @ {C3[:12]} (main)" in out and "Frees " in out and "Dry run" in out


def test_rm_yes_deletes_and_reports(tmp_path, capsys):
    cache = build_cache(tmp_path)
    status, out, _ = run(capsys, "cache", "rm", "org/b", "--hub-cache", str(cache), "--yes", "--json")
    report = json.loads(out)
    assert status == 0 and report["freed_bytes"] == 1002 and not report["failed"]
    assert not (cache / "models--org--b").exists()


def test_rm_of_an_unknown_repo_or_revision_exits_2(tmp_path, capsys):
    cache = build_cache(tmp_path)
    status, out, err = run(capsys, "cache", "rm", "org/nope", "org/a@v9", "--hub-cache", str(cache), "--yes")
    assert status == 2 and out == "" and "org/nope" in err and "org/a@v9" in err
    assert (cache / "models--org--a" / "refs" / "main").exists()
    status, _, err = run(capsys, "cache", "rm", "org/a", "--hub-cache", str(tmp_path / "none"), "--yes")
    assert status == 2 and "no hub cache" in err


def test_rm_without_yes_refuses_when_stdin_is_no_terminal(tmp_path, capsys, monkeypatch):
    cache = build_cache(tmp_path)
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    status, out, err = run(capsys, "cache", "rm", "org/b", "--hub-cache", str(cache))
    assert status == 2 and "Frees " in out and "--yes" in err
    assert (cache / "models--org--b").exists()


def test_rm_asks_on_a_terminal(tmp_path, capsys, monkeypatch):
    cache = build_cache(tmp_path)
    monkeypatch.setattr("sys.stdin", Terminal("n\n"))
    status, out, _ = run(capsys, "cache", "rm", "org/b", "--hub-cache", str(cache))
    assert status == 1 and "[y/N]" in out and (cache / "models--org--b").exists()
    monkeypatch.setattr("sys.stdin", Terminal("y\n"))
    status, out, _ = run(capsys, "cache", "rm", "org/b", "--hub-cache", str(cache))
    assert status == 0 and "freed 1002 B" in out and not (cache / "models--org--b").exists()


def test_prune_dry_run_json_then_prune(tmp_path, capsys):
    cache = build_cache(tmp_path)
    info = scan_cache_dir(cache)
    strategy = info.delete_revisions(C2, commit_hash("c1"), commit_hash("c2"))
    status, out, _ = run(capsys, "cache", "prune", "--hub-cache", str(cache), "--dry-run", "--json")
    plan = json.loads(out)
    assert status == 0 and plan["freed_bytes"] == strategy.expected_freed_size + info.incomplete_size_on_disk
    assert {p for p in plan["delete"] if not p.endswith(".incomplete")} == {
        str(p) for p in (*strategy.repos, *strategy.snapshots, *strategy.refs, *strategy.blobs)
    }
    status, out, _ = run(capsys, "cache", "prune", "--hub-cache", str(cache), "--yes")
    assert status == 0 and "Deleted" in out
    assert {r.commit_hash for repo in scan_cache_dir(cache).repos for r in repo.revisions} == {C1, C3, D1}
    status, out, _ = run(capsys, "cache", "prune", "--hub-cache", str(cache), "--yes")
    assert status == 0 and "Nothing to delete" in out


def test_rm_json_asks_on_stderr_so_stdout_stays_json(tmp_path, capsys, monkeypatch):
    cache = build_cache(tmp_path)
    monkeypatch.setattr("sys.stdin", Terminal("yes\n"))
    status, out, err = run(capsys, "cache", "rm", f"org/a@{C1}", "--hub-cache", str(cache), "--json")
    report = json.loads(out)
    assert status == 0 and "[y/N]" in err and "Frees " in err
    assert set(report) == {"freed_bytes", "delete", "removed", "failed", "skipped", "cancelled"}
    assert report["freed_bytes"] == 600 and not (cache / "models--org--a" / "snapshots" / C1).exists()


def test_the_launcher_sends_cache_to_the_command_line(tmp_path, capsys):
    from explorer import launcher

    cache = build_cache(tmp_path)
    assert launcher.main(["cache", "ls", "--hub-cache", str(cache), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 3
