"""The Django project of the comparison peer."""
