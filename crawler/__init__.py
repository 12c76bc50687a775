"""fediscope's crawler package: fetching, parsing, storing and the `fediscope` CLI."""

__version__ = "0.1.0"
PROJECT_URL = "https://github.com/fediscope/fediscope"
ROBOTS_TOKEN = "fediscope"
