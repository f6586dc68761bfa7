"""Project discovery: which pyproject files count, and the checks every written path passes."""

from __future__ import annotations

from pathlib import Path

import pytest

from depguard.errors import ProjectError
from depguard.projects import discover, require_inside

PYPROJECT = '[project]\nname = "x"\n'


def _tree(root: Path, files: list[str]) -> list[Path]:
    for rel in files:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(PYPROJECT if rel.endswith("pyproject.toml") else "home = /usr\n", encoding="utf-8")
    return [root / rel for rel in files]


@pytest.mark.parametrize("tracked", [True, False])
def test_folders_of_a_virtualenv_are_skipped_at_any_depth(tmp_path: Path, tracked: bool) -> None:
    files = _tree(
        tmp_path,
        [
            "pyproject.toml",
            "env/pyvenv.cfg",  # a virtualenv that is not called venv: known by its pyvenv.cfg
            "env/lib/pkg/pyproject.toml",
            "env/src/a/pyproject.toml",
            "envy/pyproject.toml",
            "services/a/pyproject.toml",
            "services/b/pyproject.toml",
            "services/b/.tox/py/pyvenv.cfg",
            "services/b/.tox/py/x/pyproject.toml",
            "services/c/pyvenv.cfg",
            "services/c/pyproject.toml",
        ],
    )
    found = discover(tmp_path, tracked=files if tracked else None)
    assert [p.directory.relative_to(tmp_path).as_posix() for p in found] == [".", "envy", "services/a", "services/b"]


def test_a_file_directly_in_the_project_passes_and_a_linked_folder_does_not(tmp_path: Path) -> None:
    project = tmp_path / "project"
    outside = tmp_path / "outside"
    project.mkdir()
    outside.mkdir()
    require_inside(project / "pyproject.toml", project)
    require_inside(project / "ci" / "constraints.txt", project)
    (project / "ci").symlink_to(outside)
    with pytest.raises(ProjectError, match="symbolic link"):
        require_inside(project / "ci" / "constraints.txt", project)
    (project / "pyproject.toml").symlink_to(outside / "pyproject.toml")
    with pytest.raises(ProjectError, match="symbolic link"):
        require_inside(project / "pyproject.toml", project)
    with pytest.raises(ProjectError, match="not inside the project"):
        require_inside(outside / "constraints.txt", project)
