from django.db import migrations

from branchops.cmdb import reference


class Migration(migrations.Migration):
    dependencies = [("cmdb", "0002_initial"), ("core", "0001_initial")]

    operations = [migrations.RunPython(reference.load, migrations.RunPython.noop)]
