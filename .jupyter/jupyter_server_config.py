"""JupyterLab for students and self-learners: the course's configuration for ``make lab``.

``make lab`` puts this folder on JUPYTER_CONFIG_PATH, which Jupyter reads after your own
``~/.jupyter`` and before the environment's ``etc/jupyter``. So this file (and
``labconfig/page_config.json`` beside it) overrides what installing nbgrader switched on for
everyone, while anything you configure yourself still wins. Nothing here is written by
JupyterLab: settings and workspaces you change stay in ``~/.jupyter``, outside the repository.

- It serves the repository and opens on its README (shown as rendered Markdown: see
  ``lab/settings/overrides.json``).
- Root may run it (containers, Codespaces and root shells have no other user); without
  ``allow_root`` jupyter_server refuses to start as root. As root it does not try to open a
  browser.
- Students get nbgrader's Validate button and, when an nbgrader exchange is set up (see
  :func:`exchange_root`), its Assignments list (fetch and submit). The instructor's tools
  (Formgrader, the course list, the Create Assignment sidebar) are off: here they would only
  say that no course id is set. Instructors run ``jupyter lab`` in ``assignments/``
  without this folder on the path to get them.
- Nothing reaches the network: no news feed and no update check.
- Running a lecture leaves ``git status`` clean: after each save, a notebook whose only changes
  are outputs is marked unchanged in git's index (``nbstrip.refresh_index``).
"""
import logging
import os
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
COURSE = HERE.parent

# nbgrader's server extensions (nbgrader 0.9 enables all four in etc/jupyter/jupyter_server_config.d)
FORMGRADER = "nbgrader.server_extensions.formgrader"
COURSE_LIST = "nbgrader.server_extensions.course_list"
ASSIGNMENT_LIST = "nbgrader.server_extensions.assignment_list"
VALIDATE = "nbgrader.server_extensions.validate_assignment"
# ... and the JupyterLab plugins that talk to them (ids from nbgrader's labextension);
# labconfig/page_config.json disables all but Validate, this file re-enables the two below
# when there is an exchange to list.
ASSIGNMENT_LIST_PLUGINS = ("@jupyter/nbgrader:menu", "@jupyter/nbgrader:assignment-list")


def exchange_root():
    """The nbgrader exchange folder students fetch from, or None when there is none.

    nbgrader's Assignments list reads its configuration the way this does: nbgrader_config
    files on the Jupyter config path, then the folder the server serves. An exchange is set up
    when its root folder exists (``c.Exchange.root``, default /srv/nbgrader/exchange, which
    JupyterHub deployments create) or when a different exchange implementation is configured.
    """
    from nbgrader.apps import NbGrader
    from nbgrader.exchange import ExchangeFactory
    from nbgrader.exchange.default import Exchange

    app = NbGrader()   # reads nbgrader_config.py on the Jupyter config path and in the cwd
    app.log_level = logging.ERROR   # having no nbgrader_config.py is the usual case here, not news
    cwd = os.getcwd()
    os.chdir(COURSE)   # the folder the server serves, as nbgrader's own handler does
    try:
        app.load_config_file()
    finally:
        os.chdir(cwd)
    factory = ExchangeFactory(config=app.config)
    if factory.exchange is not Exchange:
        return factory.exchange.__name__
    root = Exchange(config=app.config).root
    return root if os.path.isdir(root) else None


def _enable_assignment_list(handler, page_config):
    """jupyterlab_server's page_config_hook: turn the Assignments list's plugins back on.

    By the time the hook runs, ``disabledExtensions`` is the list of disabled plugin ids
    (jupyterlab_server turns page_config.json's mapping into that list)."""
    disabled = page_config.get("disabledExtensions", [])
    page_config["disabledExtensions"] = [p for p in disabled if p not in ASSIGNMENT_LIST_PLUGINS]
    return page_config


def _after_save(model, os_path, contents_manager, **kwargs):
    """ContentsManager.post_save_hook: a notebook saved with only new outputs stays unchanged
    for git (see nbstrip.refresh_index; the clean filter alone leaves ``git status`` saying
    "modified" and ``git pull`` refusing to run, because the file's size changed)."""
    if model.get("type") == "notebook":
        sys.path.insert(0, str(HERE))
        try:
            import nbstrip
        finally:
            sys.path.remove(str(HERE))
        nbstrip.refresh_index(os_path)


c = get_config()  # noqa: F821 - provided by Jupyter when it loads this file

# Jupyter logs an exception raised by a config file and goes on *without the rest of the file*,
# which would bring the instructor's tools back: they are switched off first, with plain
# assignments, and an exchange that cannot be read counts as none.
c.ServerApp.jpserver_extensions.update({FORMGRADER: False, COURSE_LIST: False, ASSIGNMENT_LIST: False,
                                        VALIDATE: True})
c.ServerApp.root_dir = str(COURSE)
c.ServerApp.allow_root = True
# Root is almost always a container, with no browser to open (and chromium refuses to start
# as root without --no-sandbox): jupyter prints the URL to open instead.
c.ServerApp.open_browser = os.geteuid() != 0
c.LabApp.default_url = "/lab/tree/README.md"
c.LabApp.app_settings_dir = str(HERE / "lab" / "settings")   # its overrides.json (this replaces the env's)
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
c.ContentsManager.post_save_hook = _after_save

try:
    EXCHANGE = exchange_root()
except Exception as exc:  # noqa: BLE001 - any failure here means "no exchange to list"
    print(f"[.jupyter] no nbgrader exchange: {type(exc).__name__}: {exc}", file=sys.stderr)
    EXCHANGE = None
if EXCHANGE is not None:
    c.ServerApp.jpserver_extensions.update({ASSIGNMENT_LIST: True})
    c.ServerApp.tornado_settings.update({"page_config_hook": _enable_assignment_list})
