from django.db import migrations

from branchops.monitoring.migrations import _shipped


class Migration(migrations.Migration):
    """Templates added to the shipped file since 0002 (existing ones are left as they are)."""

    dependencies = [("monitoring", "0002_shipped_templates")]

    operations = [migrations.RunPython(_shipped.load, migrations.RunPython.noop)]
