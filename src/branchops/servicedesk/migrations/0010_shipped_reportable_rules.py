from django.db import migrations

from branchops.servicedesk.migrations import _reportable_rules


class Migration(migrations.Migration):
    dependencies = [("servicedesk", "0009_reportable_incidents")]

    operations = [migrations.RunPython(_reportable_rules.load, migrations.RunPython.noop)]
