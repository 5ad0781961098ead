"""The form of one Azure account profile: name and sign-in, Batch, Storage, pool defaults.

It shows a profile, reads one back (without keys; the typed keys separately), and checks
every field as the user types, showing each problem in plain words under its field once
the user has touched it. It never reads the keyring: the dialog does that off the GUI
thread.
"""

from __future__ import annotations

import functools

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from batchgui import accounts
from batchgui.accounts.checks import batch_url_example, blob_endpoint_example
from batchgui.i18n import _, tr
from batchgui.targets.azure.config import PoolSettings
from batchgui.ui.pool_form import (
    apply_pool_mode,
    build_pool_box,
    build_prices_box,
    read_pool,
    show_pool,
)
from batchgui.ui.secret_field import CONNECTION_STRING_HINT, SecretField

#: the fields "Test connection" needs right (the pool does not matter for it)
CONNECTION_FIELDS = frozenset({
    "batch_url", "batch_account", "batch_key", "storage_account", "storage_key",
    "storage_connection_string", "blob_endpoint",
})


def tone(widget: QWidget, kind: str) -> str:
    """A text color for 'good' or 'bad' news that reads well on the widget's palette."""
    dark = widget.palette().color(QPalette.ColorRole.Window).lightness() < 128
    if kind == "good":
        return "#8fd694" if dark else "#1b6e20"
    return "#ff9e9e" if dark else "#b3261e"


def _line(name: str, placeholder: str = "") -> QLineEdit:
    edit = QLineEdit()
    edit.setObjectName(name)
    edit.setPlaceholderText(placeholder)
    edit.setClearButtonEnabled(True)
    return edit


class ProfileForm(QWidget):
    """Every field of a profile, with its error line; keys go in SecretFields.

    `editing` is the saved name of the profile shown (None for a new one), `others` the
    names of the saved profiles (a new name must not clash with them), `dirty` whether
    the user changed anything since it was shown, `touched` the fields whose problems are
    shown ("*": all of them).

    Signals:
        changed(): the user changed a field; the form has checked it again.
    """

    changed = Signal()

    # made by pool_form.build_pool_box
    pool_size_combo: QComboBox
    finish_in_spin: QSpinBox
    max_nodes_spin: QSpinBox
    allow_spot_check: QCheckBox
    pool_id_edit: QLineEdit
    vm_size_combo: QComboBox
    dedicated_spin: QSpinBox
    spot_spin: QSpinBox
    slots_spin: QSpinBox
    keep_pool_check: QCheckBox
    # made by pool_form.build_prices_box
    region_edit: QLineEdit
    currency_combo: QComboBox

    def __init__(self) -> None:
        super().__init__()
        self.editing: str | None = None
        self.others: set[str] = set()
        self.dirty = False
        self.touched: set[str] = set()
        self._original: accounts.Profile | None = None
        self._loading = False
        self._error_labels: dict[str, QLabel] = {}
        self._boxes: dict[int, QWidget] = {}
        self._build()
        self._connect()

    # -- building -----------------------------------------------------------------------------

    def _error_label(self, field: str, name: str) -> QLabel:
        """The line under a field for its problem. It keeps its room while empty, so the
        form does not jump when a problem appears or goes."""
        label = QLabel()
        label.setObjectName(name)
        label.setWordWrap(True)
        label.setTextFormat(Qt.TextFormat.PlainText)
        label.setMinimumHeight(label.fontMetrics().height())
        self._error_labels[field] = label
        return label

    def _with_error(self, widget: QWidget, error: QLabel) -> QWidget:
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(widget)
        layout.addWidget(error)
        self._boxes[id(widget)] = box
        return box

    @staticmethod
    def _add_row(form: QFormLayout, text: str, widget: QWidget,
                 field: QWidget | None = None) -> QLabel:
        label = QLabel(text)
        label.setBuddy(field or widget)
        form.addRow(label, widget)
        return label

    def _field_row(self, form: QFormLayout, text: str, edit: QWidget, field: str,
                   error_name: str, buddy: QWidget | None = None) -> QLabel:
        """A labelled field with its error line under it."""
        box = self._with_error(edit, self._error_label(field, error_name))
        return self._add_row(form, text, box, buddy or edit)

    def _build(self) -> None:
        self.form_title = QLabel()
        self.form_title.setObjectName("formTitle")
        font = self.form_title.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.form_title.setFont(font)

        self.name_edit = _line("nameEdit", _("e.g. work"))
        self.auth_combo = QComboBox()
        self.auth_combo.setObjectName("authCombo")
        self.auth_combo.addItem(_("Account keys"), accounts.AUTH_SHARED_KEY)
        self.auth_combo.addItem(_("Microsoft Entra ID (sign in with your browser)"),
                                accounts.AUTH_ENTRA)
        self.auth_combo.setToolTip(_(
            "Use Entra ID when the account does not allow access with keys. "
            "A browser opens to sign in; if none can, a code to enter at "
            "microsoft.com/devicelogin is shown here. Storage needs the storage "
            "account's name and, for your sign-in, the 'Storage Blob Data Contributor' "
            "role on it."
        ))
        self.tenant_edit = _line("tenantIdEdit", _("optional: your organisation's tenant"))
        profile_form = QFormLayout()
        self._field_row(profile_form, _("Profile &name:"), self.name_edit, "name", "nameError")
        self._add_row(profile_form, _("Sign &in with:"), self.auth_combo)
        self.tenant_label = self._add_row(profile_form, _("&Tenant:"), self.tenant_edit)

        self.batch_url_edit = _line("batchUrlEdit", batch_url_example())
        self.batch_account_edit = _line("batchAccountEdit", _("myaccount"))
        self.batch_key_edit = SecretField("batchKeyEdit")
        batch_form = QFormLayout()
        self._field_row(batch_form, _("Account &URL:"), self.batch_url_edit, "batch_url",
                        "batchUrlError")
        self._field_row(batch_form, _("Account na&me:"), self.batch_account_edit,
                        "batch_account", "batchAccountError")
        self.batch_key_label = self._field_row(batch_form, _("&Key:"), self.batch_key_edit,
                                               "batch_key", "batchKeyError")
        batch_box = QGroupBox("Azure Batch")
        batch_box.setLayout(batch_form)

        self.storage_mode_combo = QComboBox()
        self.storage_mode_combo.setObjectName("storageModeCombo")
        self.storage_mode_combo.addItem(_("Account name and key"), accounts.STORAGE_BY_KEY)
        self.storage_mode_combo.addItem(_("Connection string"),
                                        accounts.STORAGE_BY_CONNECTION_STRING)
        self.storage_account_edit = _line("storageAccountEdit", _("mystorage"))
        self.storage_key_edit = SecretField("storageKeyEdit")
        self.connection_string_edit = SecretField("connectionStringEdit", CONNECTION_STRING_HINT)
        self.blob_endpoint_edit = _line("blobEndpointEdit", tr("optional: {example}",
                                                               example=blob_endpoint_example()))
        storage_form = QFormLayout()
        self.storage_mode_label = self._add_row(storage_form, _("&Connect with:"),
                                                self.storage_mode_combo)
        self.storage_account_label = self._field_row(
            storage_form, _("Account n&ame:"), self.storage_account_edit, "storage_account",
            "storageAccountError")
        self.storage_key_label = self._field_row(
            storage_form, _("K&ey:"), self.storage_key_edit, "storage_key", "storageKeyError")
        self.connection_string_label = self._field_row(
            storage_form, _("Connection &string:"), self.connection_string_edit,
            "storage_connection_string", "connectionStringError")
        self.blob_endpoint_label = self._field_row(
            storage_form, _("Blob en&dpoint:"), self.blob_endpoint_edit, "blob_endpoint",
            "blobEndpointError")
        self.show_keys_check = QCheckBox(_("Show &keys while typing"))
        self.show_keys_check.setObjectName("showKeysCheck")
        storage_form.addRow("", self.show_keys_check)
        storage_box = QGroupBox("Azure Storage")
        storage_box.setToolTip(_("Where the videos and MP3s travel between this computer and "
                                 "the pool"))
        storage_box.setLayout(storage_form)

        pool_box = build_pool_box(self)
        prices_box = build_prices_box(self)

        layout = QVBoxLayout(self)
        layout.addWidget(self.form_title)
        layout.addLayout(profile_form)
        layout.addWidget(batch_box)
        layout.addWidget(storage_box)
        layout.addWidget(pool_box)
        layout.addWidget(prices_box)
        layout.addStretch(1)

    def _connect(self) -> None:
        fields: dict[str, QLineEdit] = {
            "name": self.name_edit,
            "batch_url": self.batch_url_edit,
            "batch_account": self.batch_account_edit,
            "batch_key": self.batch_key_edit,
            "storage_account": self.storage_account_edit,
            "storage_key": self.storage_key_edit,
            "storage_connection_string": self.connection_string_edit,
            "blob_endpoint": self.blob_endpoint_edit,
            "tenant_id": self.tenant_edit,
            "pool_id": self.pool_id_edit,
            "region": self.region_edit,
        }
        for field, edit in fields.items():
            edit.textEdited.connect(functools.partial(self._on_field_edited, field))
            edit.textChanged.connect(self._on_form_changed)
        self.batch_url_edit.textEdited.connect(self._on_batch_url_edited)
        self.auth_combo.currentIndexChanged.connect(self._on_mode_changed)
        self.storage_mode_combo.currentIndexChanged.connect(self._on_mode_changed)
        for spin in (self.dedicated_spin, self.spot_spin, self.slots_spin):
            spin.valueChanged.connect(self._on_pool_value_changed)
        for spin, field in ((self.finish_in_spin, "finish_in_minutes"),
                            (self.max_nodes_spin, "max_nodes")):
            spin.valueChanged.connect(functools.partial(self._on_field_edited, field))
            spin.valueChanged.connect(self._on_form_changed)
        self.vm_size_combo.currentTextChanged.connect(self._on_form_changed)
        self.keep_pool_check.toggled.connect(self._on_form_changed)
        self.allow_spot_check.toggled.connect(self._on_form_changed)
        self.currency_combo.currentIndexChanged.connect(self._on_form_changed)
        self.pool_size_combo.currentIndexChanged.connect(self._on_pool_size_changed)
        self.batch_url_edit.textChanged.connect(self._on_batch_url_changed)
        self.show_keys_check.toggled.connect(self._on_show_keys_toggled)

    # -- the form <-> a profile ------------------------------------------------------------------

    def show_profile(self, profile: accounts.Profile | None, suggested_name: str) -> None:
        """Fill the form from a saved profile, or empty for a new one (keys always empty)."""
        self._loading = True
        try:
            self._original = profile
            self.editing = profile.name if profile else None
            shown = profile or accounts.Profile(
                name=suggested_name, batch_url="", batch_account="")
            self.name_edit.setText(shown.name if profile else "")
            if not profile:
                self.name_edit.setPlaceholderText(tr("e.g. {name}", name=shown.name))
            self.auth_combo.setCurrentIndex(max(0, self.auth_combo.findData(shown.auth)))
            self.tenant_edit.setText(shown.tenant_id)
            self.batch_url_edit.setText(shown.batch_url)
            self.batch_account_edit.setText(shown.batch_account)
            self.storage_mode_combo.setCurrentIndex(
                max(0, self.storage_mode_combo.findData(shown.storage_auth)))
            self.storage_account_edit.setText(shown.storage_account)
            self.blob_endpoint_edit.setText(shown.blob_endpoint)
            for edit in self._secret_fields():
                edit.clear()
            show_pool(self, shown)
            self.form_title.setText(tr("Profile '{name}'", name=profile.name) if profile
                                    else _("New profile"))
            self.touched = set()
            self.dirty = False
        finally:
            self._loading = False
        self.apply_mode()
        self.validate()

    def profile(self) -> accounts.Profile:
        """The profile as the form shows it right now (no keys)."""
        start_task = self._original.pool.start_task if self._original else PoolSettings().start_task
        return accounts.Profile(
            name=self.name_edit.text().strip(),
            batch_url=accounts.normalize_url(self.batch_url_edit.text()),
            batch_account=self.batch_account_edit.text().strip(),
            storage_account=self.storage_account_edit.text().strip(),
            blob_endpoint=(accounts.normalize_url(self.blob_endpoint_edit.text())
                           if self.blob_endpoint_edit.text().strip() else ""),
            storage_auth=str(self.storage_mode_combo.currentData()),
            auth=str(self.auth_combo.currentData()),
            tenant_id=self.tenant_edit.text().strip(),
            **read_pool(self, start_task),
        )

    def secrets(self) -> accounts.Secrets:
        """The keys typed into the form (None for each field left empty)."""
        return accounts.Secrets(
            batch_key=self.batch_key_edit.value(),
            storage_key=self.storage_key_edit.value(),
            storage_connection_string=self.connection_string_edit.value(),
        )

    def _secret_fields(self) -> tuple[SecretField, ...]:
        return (self.batch_key_edit, self.storage_key_edit, self.connection_string_edit)

    def saved_secret(self, field: str) -> bool:
        """Whether an empty key field means "keep the saved one" for the profile in the form."""
        original = self._original
        if original is None or not original.uses_keys:
            return False
        if field == "batch_key":
            return True
        mode = accounts.STORAGE_BY_KEY if field == "storage_key" else (
            accounts.STORAGE_BY_CONNECTION_STRING)
        return original.storage_auth == mode

    # -- checks as you type ----------------------------------------------------------------------

    def problems(self) -> dict[str, str]:
        """Field -> plain sentence for everything that stops a save (shown or not)."""
        profile = self.profile()
        found = dict(profile.problems())
        if profile.name and profile.name != self.editing and profile.name in self.others:
            found["name"] = tr("There is already a profile called '{name}'.", name=profile.name)
        if profile.uses_keys:
            typed = self.secrets()
            for field, sentence in profile.check_secrets(typed).items():
                if getattr(typed, field) or not self.saved_secret(field):
                    found[field] = sentence
        return found

    def validate(self) -> dict[str, str]:
        """Check every field; show the problems of the touched ones under their fields."""
        problems = self.problems()
        color = tone(self, "bad")
        for field, label in self._error_labels.items():
            sentence = problems.get(field, "")
            show = bool(sentence) and (field in self.touched or "*" in self.touched)
            label.setText(sentence if show else "")
            label.setStyleSheet(f"color: {color};")
        return problems

    def apply_mode(self) -> None:
        """Show the rows the chosen sign-in and storage mode need, and hide the others."""
        entra = self.auth_combo.currentData() == accounts.AUTH_ENTRA
        by_string = (
            not entra and self.storage_mode_combo.currentData()
            == accounts.STORAGE_BY_CONNECTION_STRING
        )
        rows: list[tuple[bool, QLabel, QWidget]] = [
            (entra, self.tenant_label, self.tenant_edit),
            (not entra, self.batch_key_label, self.batch_key_edit),
            (not entra, self.storage_mode_label, self.storage_mode_combo),
            (not by_string, self.storage_account_label, self.storage_account_edit),
            (not entra and not by_string, self.storage_key_label, self.storage_key_edit),
            (by_string, self.connection_string_label, self.connection_string_edit),
            (not by_string, self.blob_endpoint_label, self.blob_endpoint_edit),
        ]
        for visible, label, widget in rows:
            label.setVisible(visible)
            widget.setVisible(visible)
            box = self._boxes.get(id(widget))  # the field with its error line below
            if box is not None:
                box.setVisible(visible)
        self.show_keys_check.setVisible(not entra)
        apply_pool_mode(self)
        in_session = self.editing is not None and accounts.secrets.in_session(self.editing)
        where = _("kept for this session") if in_session else _("saved in the system keyring")
        for field, edit in (("batch_key", self.batch_key_edit),
                            ("storage_key", self.storage_key_edit),
                            ("storage_connection_string", self.connection_string_edit)):
            edit.show_saved(where if self.saved_secret(field) else None)

    # -- slots -----------------------------------------------------------------------------------

    def _on_field_edited(self, field: str, _text: str) -> None:
        self.touched.add(field)

    @Slot()
    def _on_form_changed(self) -> None:
        if self._loading:
            return
        self.dirty = True
        self.validate()
        self.changed.emit()

    @Slot(int)
    def _on_pool_value_changed(self, _value: int) -> None:
        if self._loading:
            return
        self.touched.add("nodes")
        self._on_form_changed()

    @Slot(int)
    def _on_pool_size_changed(self, _index: int) -> None:
        apply_pool_mode(self)
        self._on_form_changed()

    @Slot(str)
    def _on_batch_url_changed(self, _text: str) -> None:
        apply_pool_mode(self)  # the region's hint follows the URL

    @Slot(str)
    def _on_batch_url_edited(self, text: str) -> None:
        """Fill in the account name from the URL while the user has not typed one."""
        if "batch_account" in self.touched:
            return
        name = accounts.account_from_batch_url(text)
        if name:
            self.batch_account_edit.setText(name)

    @Slot(int)
    def _on_mode_changed(self, _index: int) -> None:
        if self._loading:
            return
        # say at once what the new mode still needs, instead of a silently grey Save
        self.touched.update({"storage_account", "storage_key", "storage_connection_string"})
        self.apply_mode()
        self._on_form_changed()

    @Slot(bool)
    def _on_show_keys_toggled(self, shown: bool) -> None:
        for edit in self._secret_fields():
            edit.reveal(shown)
