"""A foreign key over several columns, which Django 5.2's ForeignKey cannot express.

A school-owned row whose parent is school-owned too (a role's membership, a sync record's run) names its
school twice: once in its own `school` and once through the parent. One constraint on (parent, school)
referencing the parent's (id, school) says both at once — the parent exists and is at the row's school — where
two single-column keys said less (a row could point at another school's parent) and cost PostgreSQL two checks
per row written instead of one (a 100,000-person first import writes about a million such rows). The parent
needs a unique constraint on exactly those columns (its id plus its school: unique because the id is).

Used in Meta.constraints beside the ForeignKey fields, which keep their Python behaviour (joins, on_delete
cascades through Django's collector) with db_constraint=False. Like Django's own keys it is checked at commit
(DEFERRABLE INITIALLY DEFERRED), so bulk writes may come in any order.
"""

from django.core.exceptions import ValidationError
from django.db.models import BaseConstraint
from django.utils.translation import gettext_lazy as _


class CompositeForeignKey(BaseConstraint):
    default_violation_error_message = _("Constraint “%(name)s” is violated: there is no such parent row.")

    def __init__(self, *, fields, to, to_fields, name, violation_error_code=None, violation_error_message=None):
        if len(fields) < 2 or len(fields) != len(to_fields):
            raise ValueError("CompositeForeignKey needs two or more fields, as many as to_fields.")
        self.fields, self.to, self.to_fields = tuple(fields), to, tuple(to_fields)
        super().__init__(
            name=name, violation_error_code=violation_error_code, violation_error_message=violation_error_message
        )

    # --- the SQL -----------------------------------------------------------------------------------------

    def _to_model(self, model):
        """The parent through one of the fields' own relations where one leads there: SQLite rebuilds a table
        from a copy of its model in a registry of its own, where the parent cannot be looked up by name."""
        for name in self.fields:
            related = model._meta.get_field(name).related_model
            if related is not None and not isinstance(related, str) and related._meta.label_lower == self.to.lower():
                return related
        return model._meta.apps.get_model(self.to)

    def _parts(self, model, schema_editor):
        quote = schema_editor.quote_name
        to_model = self._to_model(model)
        columns = ", ".join(quote(model._meta.get_field(f).column) for f in self.fields)
        to_columns = ", ".join(quote(to_model._meta.get_field(f).column) for f in self.to_fields)
        definition = (
            f"FOREIGN KEY ({columns}) REFERENCES {quote(to_model._meta.db_table)} ({to_columns})"
            " DEFERRABLE INITIALLY DEFERRED"
        )
        return quote(model._meta.db_table), quote(self.name), definition

    def constraint_sql(self, model, schema_editor):
        """Inside CREATE TABLE where the database takes keys only so (SQLite, which rebuilds a table for any
        change of its constraints); elsewhere added once every table exists, as Django does its own keys."""
        table, name, definition = self._parts(model, schema_editor)
        if schema_editor.sql_create_inline_fk:
            return f"CONSTRAINT {name} {definition}"
        schema_editor.deferred_sql.append(self.create_sql(model, schema_editor))
        return None

    def create_sql(self, model, schema_editor):
        table, name, definition = self._parts(model, schema_editor)
        return f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}"

    def remove_sql(self, model, schema_editor):
        table, name, _definition = self._parts(model, schema_editor)
        return f"ALTER TABLE {table} DROP CONSTRAINT {name}"

    # --- Django's side: model validation, migrations -----------------------------------------------------

    def validate(self, model, instance, exclude=None, using=None):
        """A form's full_clean: the parent must exist with these values (none of them empty: like any foreign
        key, a row with an empty column is not checked)."""
        if exclude and any(f in exclude for f in self.fields):
            return
        opts = model._meta
        values = [getattr(instance, opts.get_field(f).attname) for f in self.fields]
        if any(v is None for v in values):
            return
        to_model = self._to_model(model)
        to_opts = to_model._meta
        lookup = {to_opts.get_field(f).attname: v for f, v in zip(self.to_fields, values, strict=True)}
        manager = to_model._base_manager  # not the scoped default manager: validation needs no scope
        if using is not None:
            manager = manager.db_manager(using)
        if not manager.filter(**lookup).exists():
            raise ValidationError(self.get_violation_error_message(), code=self.violation_error_code)

    def deconstruct(self):
        path, args, kwargs = super().deconstruct()
        kwargs.update(fields=list(self.fields), to=self.to, to_fields=list(self.to_fields))
        return path, args, kwargs

    def __eq__(self, other):
        if isinstance(other, CompositeForeignKey):
            return self.deconstruct() == other.deconstruct()
        return super().__eq__(other)

    def __hash__(self):
        return hash((self.name, self.fields, self.to, self.to_fields))

    def __repr__(self):
        return (
            f"<{self.__class__.__name__}: fields={self.fields!r} to={self.to!r} to_fields={self.to_fields!r} "
            f"name={self.name!r}>"
        )
