"""A stateful fake of the ConnectWise Manage REST API."""
