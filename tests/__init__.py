import pytest

# Shared helpers assert too; have pytest explain their failures as it does in test modules.
pytest.register_assert_rewrite("tests.helpers", "tests.sockets")
