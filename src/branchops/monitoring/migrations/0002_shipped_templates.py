from django.db import migrations

from branchops.monitoring.migrations import _shipped


class Migration(migrations.Migration):
    dependencies = [("monitoring", "0001_initial"), ("cmdb", "0003_reference_data")]

    operations = [migrations.RunPython(_shipped.load, migrations.RunPython.noop)]
