"""The suite's own kernels talk over unix sockets (conftest.py says why): a port taken by
the other test worker between jupyter_client's choice and the kernel's bind cannot kill them."""
import nbformat
from nbclient import NotebookClient

REPORT = """\
import json
from ipykernel.connect import get_connection_info
info = json.loads(get_connection_info())
print(info["transport"], info["ip"])
"""


def test_a_kernel_the_tests_start_listens_on_unix_sockets_not_tcp(kernel_sockets):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(REPORT)])
    NotebookClient(nb, kernel_name="python3", timeout=60, config=kernel_sockets.config()).execute()
    transport, ip = nb.cells[0].outputs[0].text.split()
    assert transport == "ipc"
    assert ip.startswith(kernel_sockets.root)
    assert len(f"{ip}-99999".encode()) <= 107       # the longest path a unix socket may have


def test_every_kernel_gets_its_own_socket_prefix(kernel_sockets):
    first, second = kernel_sockets.config(), kernel_sockets.config()
    assert first.KernelManager.ip != second.KernelManager.ip
    assert kernel_sockets.nbgrader_options() != kernel_sockets.nbgrader_options()
