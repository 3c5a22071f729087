"""nbgrader configuration of the course (run nbgrader from this directory).

Layout (nbgrader's standard one): source/<assignment>/ (instructor notebooks with
solutions and hidden tests), release/<assignment>/ (student versions, generated and
committed), submitted/<student>/<assignment>/, autograded/, feedback/ (made while
grading, not committed). The gradebook is gradebook.db in this directory.
"""
c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

c.CourseDirectory.course_id = "dlcourse-optimizers"

# The region a student fills in; the stub is what the release shows in its place.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
# Hidden tests are removed from the release and put back when autograding.
c.ClearHiddenTests.begin_test_delimeter = "BEGIN HIDDEN TESTS"  # (sic: nbgrader's spelling)
c.ClearHiddenTests.end_test_delimeter = "END HIDDEN TESTS"

# Execution while autograding (and generate_solution): each cell may take 120 s
# (a student's slow loop fails that cell, not the whole run); the kernel may be
# silent for a while on a busy machine before nbgrader gives up on it.
c.ExecutePreprocessor.timeout = 120
c.Execute.timeout = 120
c.Execute.iopub_timeout = 30
c.Execute.startup_timeout = 120
c.Execute.interrupt_on_timeout = True
c.Execute.kernel_name = "python3"

# Grading: student notebooks are checked against the cells stored in the gradebook
# (test cells and read-only cells are restored), and tests must not be edited.
c.Autograde.create_student = True
c.ClearOutput.enabled = True
