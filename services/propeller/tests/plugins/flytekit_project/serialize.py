"""Regenerate templates/*.pb with a flytekit interpreter: `<flytekit venv>/bin/python serialize.py`.

The templates are fast-registered (pyflyte-fast-execute --additional-distribution ... --dest-dir /root), as
`pyflyte register` produces them; tests replace the distribution placeholder with a tarball of this directory.
"""

import os
import sys
from collections import OrderedDict

from flytekit.configuration import FastSerializationSettings, ImageConfig, SerializationSettings
from flytekit.tools.translator import get_serializable

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import demo_tasks  # noqa: E402

DISTRIBUTION_PLACEHOLDER = "file:///ALOFT_DISTRIBUTION.tar.gz"

settings = SerializationSettings(
    image_config=ImageConfig.auto_default_image(),
    project="flytesnacks",
    domain="development",
    version="v1",
    fast_serialization_settings=FastSerializationSettings(
        enabled=True, destination_dir="/root", distribution_location=DISTRIBUTION_PLACEHOLDER
    ),
)
for name in ("add", "flaky", "broken", "write_file", "read_file"):
    entity = get_serializable(OrderedDict(), settings, getattr(demo_tasks, name))
    with open(os.path.join(HERE, "templates", f"{name}.pb"), "wb") as out:
        out.write(entity.template.to_flyte_idl().SerializeToString())
    print("wrote", name)
