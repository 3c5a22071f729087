"""What the grader's workers change in nbgrader for speed, each against the behaviour it replaces:
metadata validation with each schema checked once (jsonschema's own errors), one SQLAlchemy
engine per gradebook (the same data through every Gradebook opened on it)."""

import copy
import json
import os

import jsonschema
import pytest

from autograder.classgrade.execute import SchemaCheckedOnce

import nbgrader.nbgraderformat as nbgraderformat

SCHEMA = json.load(open(os.path.join(os.path.dirname(nbgraderformat.__file__), "v3.json")))
GOOD = {"grade": True, "grade_id": "test_adam", "locked": True, "points": 10, "schema_version": 3,
        "solution": False, "task": False}

CASES = [
    ("valid", GOOD),
    ("points of the wrong type", dict(GOOD, points="ten")),
    ("a required key missing", {k: v for k, v in GOOD.items() if k != "locked"}),
    ("an unknown schema version", dict(GOOD, schema_version="3")),
    ("not an object", ["grade"]),
]


@pytest.mark.parametrize("why, metadata", CASES, ids=[c[0] for c in CASES])
def test_it_accepts_and_rejects_what_jsonschema_validate_does_with_the_same_message(why, metadata):
    validator = SchemaCheckedOnce()
    for _ in range(2):                         # the second call uses the remembered validator
        try:
            jsonschema.validate(metadata, SCHEMA)
        except jsonschema.ValidationError as exc:
            with pytest.raises(jsonschema.ValidationError) as ours:
                validator.validate(copy.deepcopy(metadata), SCHEMA)
            assert (ours.value.message, list(ours.value.path)) == (exc.message, list(exc.path))
        else:
            validator.validate(copy.deepcopy(metadata), SCHEMA)


def test_an_invalid_schema_is_still_refused():
    with pytest.raises(jsonschema.SchemaError):
        SchemaCheckedOnce().validate({}, {"type": "no such type"})


def test_gradebooks_on_one_file_share_an_engine_and_see_each_others_writes(tmp_path):
    from nbgrader import api

    from autograder.classgrade.execute import reuse_gradebook_engines
    reuse_gradebook_engines()
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    with api.Gradebook(url, "course") as gb:
        gb.add_student("ann", first_name="Ann")
        engine = gb.engine
    with api.Gradebook(url, "course") as gb:       # closed and opened again: same engine, same data
        assert gb.engine is engine
        assert gb.find_student("ann").first_name == "Ann"
        gb.update_or_create_student("ann", first_name="Anne")
    other = f"sqlite:///{tmp_path / 'other.db'}"
    with api.Gradebook(other, "course") as gb:
        assert gb.engine is not engine and gb.students == []
    with api.Gradebook(url, "course") as gb:
        assert gb.find_student("ann").first_name == "Anne"
