"""An optional import the grader's own processes skip (imported first by pipeline and worker).

With ``rfc3987_syntax`` installed (jupyter-events requires it), importing jsonschema compiles
38 Lark grammars for its "iri" format checker: 0.8 s of CPU in every process that imports
nbformat, the grading command's serial start included. nbformat and nbgrader validate
notebooks without format checkers, so the grader's processes import jsonschema without it
(its other checkers are unchanged). Kernels and recorders never import this module: what a
student's code sees is not changed.
"""

import sys

sys.modules.setdefault("rfc3987_syntax", None)      # None: `import rfc3987_syntax` raises ImportError
