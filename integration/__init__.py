"""The real Datto to ConnectWise integration: onboarding, alerts to tickets, overage billing."""
