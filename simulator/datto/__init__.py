"""Simulated Datto SIRIS/ALTO appliances and Datto's partner-portal device API."""
