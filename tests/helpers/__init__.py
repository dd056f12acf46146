"""Test helpers shared by several test folders (fixtures stay in conftest modules; helpers live here)."""
