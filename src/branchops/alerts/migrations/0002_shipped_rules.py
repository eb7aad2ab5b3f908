from django.db import migrations

from branchops.alerts.migrations import _shipped


class Migration(migrations.Migration):
    dependencies = [("alerts", "0001_initial")]

    operations = [migrations.RunPython(_shipped.load, migrations.RunPython.noop)]
