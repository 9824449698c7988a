"""The fake outside world: ConnectWise Manage, the Datto fleet and portal, the mail catcher."""
