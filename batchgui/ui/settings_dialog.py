"""Azure accounts in Settings: profiles list, add/edit/remove, and "Test connection".

Keys typed here go straight to accounts.py (the OS keyring, or this session's memory
when the user chooses that because no keyring works); the form never shows a saved
key again. Keyring and network calls run on worker threads: the slots that need them
are async methods awaiting `loop.run_in_executor`, so the window stays responsive.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent, Qt, Signal, Slot
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QStyle,
    QVBoxLayout,
    QWidget,
)
from qasync import asyncSlot

from batchgui import accounts
from batchgui.targets.azure.config import PoolSettings

log = logging.getLogger(__name__)

VM_SIZES = (
    "standard_d2s_v3",
    "standard_d4s_v3",
    "standard_d8s_v3",
    "standard_f2s_v2",
    "standard_f4s_v2",
    "standard_a2_v2",
)

#: the plain result of a check that passed
OK = "ok"


def check_connection(
    profile: accounts.Profile,
    typed: accounts.Secrets,
    editing: str | None,
    prompt: Callable[[str], None] | None = None,
) -> tuple[str, str]:
    """(batch, storage), each "ok" or a plain sentence. Blocking: runs on a worker thread.

    Keys left empty in the form are taken from the keyring entry of the profile being
    edited, so a user can test a saved profile without typing its keys again.
    """
    from batchgui.targets import registry

    if profile.uses_keys:
        keys = typed
        if editing is not None and profile.check_secrets(keys):
            try:
                keys = typed.merged_over(accounts.secrets.get(editing))
            except accounts.KeyringUnavailable:
                pass
        missing = profile.check_secrets(keys)
        if missing:
            sentence = " ".join(missing.values())
            return sentence, sentence
        account = accounts.account_from(profile, keys)
    else:
        account = accounts.account_from(
            profile, accounts.Secrets(), accounts.entra_credential(profile, prompt)
        )
    results = registry.test_connection(account)
    return str(results.get("batch", "")), str(results.get("storage", ""))


class SettingsDialog(QDialog):
    """The Azure accounts the target selector offers.

    Signals: profiles_changed() after a profile was saved or removed.
    """

    profiles_changed = Signal()
    sign_in_prompted = Signal(str)  # Entra ID device code instructions, from a worker thread

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("settingsDialog")
        self.setWindowTitle("Azure accounts")
        self._editing: str | None = None  # the saved name of the profile in the form
        self._original: accounts.Profile | None = None
        self._profiles: list[accounts.Profile] = []
        self._touched: set[str] = set()
        self._dirty = False
        self._loading = False
        self._busy = False
        self._closed = False
        self._tasks: set[asyncio.Future[Any]] = set()
        self._build()
        self._connect()
        self._reload_profiles()
        if self._profiles:
            self.profile_list.setCurrentRow(0)
        else:
            self._new_profile()
        self.resize(760, 760)

    # -- building -----------------------------------------------------------------------------

    def _line(self, name: str, placeholder: str = "", secret: bool = False) -> QLineEdit:
        edit = QLineEdit()
        edit.setObjectName(name)
        edit.setPlaceholderText(placeholder)
        edit.setClearButtonEnabled(not secret)
        if secret:
            edit.setEchoMode(QLineEdit.EchoMode.Password)
            edit.setInputMethodHints(
                Qt.InputMethodHint.ImhHiddenText | Qt.InputMethodHint.ImhSensitiveData
                | Qt.InputMethodHint.ImhNoPredictiveText
            )
        return edit

    def _error_label(self, name: str) -> QLabel:
        label = QLabel()
        label.setObjectName(name)
        label.setWordWrap(True)
        label.setVisible(False)
        label.setTextFormat(Qt.TextFormat.PlainText)
        self._error_labels.append(label)
        return label

    def _with_error(self, widget: QWidget, error: QLabel, extra: QWidget | None = None) -> QWidget:
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(widget)
        if extra is not None:
            layout.addWidget(extra)
        layout.addWidget(error)
        self._boxes[id(widget)] = box
        return box

    def _add_row(self, form: QFormLayout, text: str, widget: QWidget,
                 field: QWidget | None = None) -> QLabel:
        label = QLabel(text)
        label.setBuddy(field or widget)
        form.addRow(label, widget)
        return label

    def _build(self) -> None:
        self._error_labels: list[QLabel] = []
        self._boxes: dict[int, QWidget] = {}

        # left: the profiles
        self.profile_list = QListWidget()
        self.profile_list.setObjectName("profileList")
        self.profile_list.setMinimumWidth(150)
        self.profile_list.setMaximumWidth(220)
        self.profile_list.setSizePolicy(QSizePolicy.Policy.Preferred,
                                        QSizePolicy.Policy.Expanding)
        self.add_button = QPushButton("&Add")
        self.add_button.setObjectName("addProfileButton")
        self.add_button.setToolTip("Set up another Azure account")
        self.remove_button = QPushButton("&Remove")
        self.remove_button.setObjectName("removeProfileButton")
        self.remove_button.setToolTip("Remove the selected profile and its keys")
        list_buttons = QHBoxLayout()
        list_buttons.addWidget(self.add_button)
        list_buttons.addWidget(self.remove_button)
        left = QVBoxLayout()
        profiles_label = QLabel("&Profiles")
        profiles_label.setBuddy(self.profile_list)
        left.addWidget(profiles_label)
        left.addWidget(self.profile_list, 1)
        left.addLayout(list_buttons)

        # right: the form
        self.form_title = QLabel()
        self.form_title.setObjectName("formTitle")
        font = self.form_title.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.form_title.setFont(font)

        self.name_edit = self._line("nameEdit", "e.g. work")
        self.name_error = self._error_label("nameError")
        self.auth_combo = QComboBox()
        self.auth_combo.setObjectName("authCombo")
        self.auth_combo.addItem("Account keys", accounts.AUTH_SHARED_KEY)
        self.auth_combo.addItem("Microsoft Entra ID (sign in with your browser)",
                                accounts.AUTH_ENTRA)
        self.auth_combo.setToolTip(
            "Use Entra ID when the account does not allow access with keys. "
            "A browser opens to sign in; if none can, a code to enter at "
            "microsoft.com/devicelogin is shown here. Storage needs the storage "
            "account's name and, for your sign-in, the 'Storage Blob Data Contributor' "
            "role on it."
        )
        self.tenant_edit = self._line("tenantIdEdit", "optional: your organisation's tenant")
        profile_form = QFormLayout()
        self._add_row(profile_form, "Profile &name:", self._with_error(self.name_edit,
                                                                         self.name_error),
                      self.name_edit)
        self._add_row(profile_form, "Sign &in with:", self.auth_combo)
        self.tenant_label = self._add_row(profile_form, "&Tenant:", self.tenant_edit)

        self.batch_url_edit = self._line("batchUrlEdit",
                                         "https://myaccount.westeurope.batch.azure.com")
        self.batch_url_error = self._error_label("batchUrlError")
        self.batch_account_edit = self._line("batchAccountEdit", "myaccount")
        self.batch_account_error = self._error_label("batchAccountError")
        self.batch_key_edit = self._line("batchKeyEdit", "", secret=True)
        self.batch_key_error = self._error_label("batchKeyError")
        batch_form = QFormLayout()
        self._add_row(batch_form, "Account &URL:",
                      self._with_error(self.batch_url_edit, self.batch_url_error),
                      self.batch_url_edit)
        self._add_row(batch_form, "Account na&me:",
                      self._with_error(self.batch_account_edit, self.batch_account_error),
                      self.batch_account_edit)
        self.batch_key_label = self._add_row(
            batch_form, "&Key:", self._with_error(self.batch_key_edit, self.batch_key_error),
            self.batch_key_edit)
        batch_box = QGroupBox("Azure Batch")
        batch_box.setLayout(batch_form)

        self.storage_mode_combo = QComboBox()
        self.storage_mode_combo.setObjectName("storageModeCombo")
        self.storage_mode_combo.addItem("Account name and key", accounts.STORAGE_BY_KEY)
        self.storage_mode_combo.addItem("Connection string", accounts.STORAGE_BY_CONNECTION_STRING)
        self.storage_account_edit = self._line("storageAccountEdit", "mystorage")
        self.storage_account_error = self._error_label("storageAccountError")
        self.storage_key_edit = self._line("storageKeyEdit", "", secret=True)
        self.storage_key_error = self._error_label("storageKeyError")
        self.connection_string_edit = self._line(
            "connectionStringEdit", "DefaultEndpointsProtocol=https;AccountName=…;AccountKey=…",
            secret=True)
        self.connection_string_error = self._error_label("connectionStringError")
        self.blob_endpoint_edit = self._line("blobEndpointEdit",
                                             "optional: https://mystorage.blob.core.windows.net")
        self.blob_endpoint_error = self._error_label("blobEndpointError")
        storage_form = QFormLayout()
        self.storage_mode_label = self._add_row(storage_form, "&Connect with:",
                                                self.storage_mode_combo)
        self.storage_account_label = self._add_row(
            storage_form, "Account n&ame:",
            self._with_error(self.storage_account_edit, self.storage_account_error),
            self.storage_account_edit)
        self.storage_key_label = self._add_row(
            storage_form, "K&ey:",
            self._with_error(self.storage_key_edit, self.storage_key_error),
            self.storage_key_edit)
        self.connection_string_label = self._add_row(
            storage_form, "Connection &string:",
            self._with_error(self.connection_string_edit, self.connection_string_error),
            self.connection_string_edit)
        self.blob_endpoint_label = self._add_row(
            storage_form, "Blob en&dpoint:",
            self._with_error(self.blob_endpoint_edit, self.blob_endpoint_error),
            self.blob_endpoint_edit)
        self.show_keys_check = QCheckBox("Show &keys while typing")
        self.show_keys_check.setObjectName("showKeysCheck")
        storage_form.addRow("", self.show_keys_check)
        storage_box = QGroupBox("Azure Storage")
        storage_box.setToolTip("Where the videos and MP3s travel between this computer and "
                               "the pool")
        storage_box.setLayout(storage_form)

        self.pool_id_edit = self._line("poolIdEdit", PoolSettings().pool_id)
        self.pool_id_error = self._error_label("poolIdError")
        self.vm_size_combo = QComboBox()
        self.vm_size_combo.setObjectName("vmSizeCombo")
        self.vm_size_combo.setEditable(True)
        self.vm_size_combo.addItems(VM_SIZES)
        self.vm_size_combo.setMinimumContentsLength(22)
        self.dedicated_spin = QSpinBox()
        self.dedicated_spin.setObjectName("dedicatedNodesSpin")
        self.dedicated_spin.setRange(0, 1000)
        self.spot_spin = QSpinBox()
        self.spot_spin.setObjectName("spotNodesSpin")
        self.spot_spin.setRange(0, 1000)
        self.spot_spin.setToolTip("Spot nodes cost much less, but Azure may take them back; "
                                  "their files are then converted again elsewhere.")
        self.nodes_error = self._error_label("nodesError")
        nodes_row = QWidget()
        nodes_layout = QHBoxLayout(nodes_row)
        nodes_layout.setContentsMargins(0, 0, 0, 0)
        nodes_layout.addWidget(self.dedicated_spin)
        spot_label = QLabel("dedicated   +   S&pot:")
        spot_label.setBuddy(self.spot_spin)
        nodes_layout.addWidget(spot_label)
        nodes_layout.addWidget(self.spot_spin)
        nodes_layout.addStretch(1)
        self.slots_spin = QSpinBox()
        self.slots_spin.setObjectName("slotsPerNodeSpin")
        self.slots_spin.setRange(1, 256)
        self.slots_spin.setToolTip("How many files each node converts at once")
        self.keep_pool_check = QCheckBox("Keep the pool after a run")
        self.keep_pool_check.setObjectName("keepPoolCheck")
        self.keep_pool_check.setToolTip("Faster next time, but the nodes cost money while idle")
        pool_form = QFormLayout()
        pool_form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        self._add_row(pool_form, "P&ool id:",
                      self._with_error(self.pool_id_edit, self.pool_id_error), self.pool_id_edit)
        self._add_row(pool_form, "&VM size:", self.vm_size_combo)
        self._add_row(pool_form, "&Nodes:", self._with_error(nodes_row, self.nodes_error),
                      self.dedicated_spin)
        self._add_row(pool_form, "Files at once per no&de:", self.slots_spin)
        pool_form.addRow("", self.keep_pool_check)
        pool_box = QGroupBox("Pool defaults")
        pool_box.setLayout(pool_form)

        # test results
        self.test_button = QPushButton("&Test connection")
        self.test_button.setObjectName("testButton")
        self.test_button.setToolTip("Ask Batch for one pool and Storage for one container")
        self.batch_result_label = QLabel()
        self.batch_result_label.setObjectName("batchResultLabel")
        self.storage_result_label = QLabel()
        self.storage_result_label.setObjectName("storageResultLabel")
        self.sign_in_label = QLabel()
        self.sign_in_label.setObjectName("signInLabel")
        self.sign_in_label.setVisible(False)
        for label in (self.batch_result_label, self.storage_result_label, self.sign_in_label):
            label.setWordWrap(True)
            label.setTextFormat(Qt.TextFormat.PlainText)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        results = QVBoxLayout()
        results.setSpacing(2)
        results.addWidget(self.batch_result_label)
        results.addWidget(self.storage_result_label)
        results.addWidget(self.sign_in_label)

        form_widget = QWidget()
        form_layout = QVBoxLayout(form_widget)
        form_layout.addWidget(self.form_title)
        form_layout.addLayout(profile_form)
        form_layout.addWidget(batch_box)
        form_layout.addWidget(storage_box)
        form_layout.addWidget(pool_box)
        form_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setObjectName("formScroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(form_widget)

        # the "no keyring" banner
        self.keyring_banner = QFrame()
        self.keyring_banner.setObjectName("keyringBanner")
        self.keyring_banner.setFrameShape(QFrame.Shape.StyledPanel)
        self.keyring_banner.setVisible(False)
        icon = QLabel()
        icon.setPixmap(self.style().standardIcon(
            QStyle.StandardPixmap.SP_MessageBoxWarning).pixmap(32, 32))
        icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.keyring_message_label = QLabel()
        self.keyring_message_label.setObjectName("keyringMessageLabel")
        self.keyring_message_label.setWordWrap(True)
        self.keyring_message_label.setTextFormat(Qt.TextFormat.PlainText)
        self.session_only_button = QPushButton("Keep keys for this &session only")
        self.session_only_button.setObjectName("sessionOnlyButton")
        self.session_only_button.setToolTip(
            "The keys stay in memory until BatchGUI closes; they are never written to disk."
        )
        banner_text = QVBoxLayout()
        banner_text.addWidget(self.keyring_message_label)
        banner_buttons = QHBoxLayout()
        banner_buttons.addWidget(self.session_only_button)
        banner_buttons.addStretch(1)
        banner_text.addLayout(banner_buttons)
        banner_layout = QHBoxLayout(self.keyring_banner)
        banner_layout.addWidget(icon)
        banner_layout.addLayout(banner_text, 1)

        # bottom
        self.status_label = QLabel()
        self.status_label.setObjectName("statusLabel")
        self.status_label.setWordWrap(True)
        self.status_label.setTextFormat(Qt.TextFormat.PlainText)
        self.save_button = QPushButton("&Save")
        self.save_button.setObjectName("saveButton")
        self.save_button.setDefault(True)
        self.close_button = QPushButton("Close")
        self.close_button.setObjectName("closeButton")
        self.close_button.setAutoDefault(False)
        bottom = QHBoxLayout()
        bottom.addWidget(self.test_button)
        bottom.addWidget(self.status_label, 1)
        bottom.addWidget(self.save_button)
        bottom.addWidget(self.close_button)

        right = QVBoxLayout()
        right.addWidget(scroll, 1)
        right.addLayout(results)
        right.addWidget(self.keyring_banner)
        right.addLayout(bottom)
        top = QHBoxLayout(self)
        # The layout would push a new minimum size to the window whenever a row shows or
        # hides; the scroll area absorbs those changes, so keep one fixed minimum instead.
        top.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
        self.setMinimumSize(620, 480)
        top.addLayout(left, 0)
        top.addLayout(right, 1)

    def _connect(self) -> None:
        self.profile_list.currentRowChanged.connect(self._on_profile_list_row_changed)
        self.add_button.clicked.connect(self._on_add_button_clicked)
        self.remove_button.clicked.connect(self._on_remove_button_clicked)
        self.save_button.clicked.connect(self._on_save_button_clicked)
        self.session_only_button.clicked.connect(self._on_session_only_button_clicked)
        self.test_button.clicked.connect(self._on_test_button_clicked)
        self.close_button.clicked.connect(self.reject)
        self.show_keys_check.toggled.connect(self._on_show_keys_toggled)
        self.sign_in_prompted.connect(self._on_sign_in_prompted)
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
        }
        for field, edit in fields.items():
            edit.textEdited.connect(functools.partial(self._on_field_edited, field))
            edit.textChanged.connect(self._on_form_changed)
        self.batch_url_edit.textEdited.connect(self._on_batch_url_edited)
        self.auth_combo.currentIndexChanged.connect(self._on_mode_changed)
        self.storage_mode_combo.currentIndexChanged.connect(self._on_mode_changed)
        for spin in (self.dedicated_spin, self.spot_spin, self.slots_spin):
            spin.valueChanged.connect(self._on_pool_value_changed)
        self.vm_size_combo.currentTextChanged.connect(self._on_form_changed)
        self.keep_pool_check.toggled.connect(self._on_form_changed)

    # -- the form <-> a profile ------------------------------------------------------------------

    def _reload_profiles(self, select: str | None = None) -> None:
        """Fill the list from the profiles file (a few hundred bytes: fine on this thread)."""
        self._profiles = accounts.load_profiles()
        self.profile_list.blockSignals(True)
        self.profile_list.clear()
        for profile in self._profiles:
            item = QListWidgetItem(profile.name)
            item.setData(Qt.ItemDataRole.UserRole, profile.name)
            item.setToolTip(f"{profile.batch_account} · {profile.batch_url}")
            self.profile_list.addItem(item)
        self.profile_list.blockSignals(False)
        if select is not None:
            names = [p.name for p in self._profiles]
            if select in names:
                self.profile_list.blockSignals(True)
                self.profile_list.setCurrentRow(names.index(select))
                self.profile_list.blockSignals(False)
        self._update_buttons()

    def _show_profile(self, profile: accounts.Profile | None) -> None:
        self._loading = True
        try:
            self._original = profile
            self._editing = profile.name if profile else None
            shown = profile or accounts.Profile(
                name=self._suggest_name(), batch_url="", batch_account="")
            self.name_edit.setText(shown.name if profile else "")
            if not profile:
                self.name_edit.setPlaceholderText(f"e.g. {shown.name}")
            self.auth_combo.setCurrentIndex(max(0, self.auth_combo.findData(shown.auth)))
            self.tenant_edit.setText(shown.tenant_id)
            self.batch_url_edit.setText(shown.batch_url)
            self.batch_account_edit.setText(shown.batch_account)
            self.storage_mode_combo.setCurrentIndex(
                max(0, self.storage_mode_combo.findData(shown.storage_auth)))
            self.storage_account_edit.setText(shown.storage_account)
            self.blob_endpoint_edit.setText(shown.blob_endpoint)
            for edit in (self.batch_key_edit, self.storage_key_edit, self.connection_string_edit):
                edit.clear()
            pool = shown.pool
            self.pool_id_edit.setText(pool.pool_id)
            self.vm_size_combo.setCurrentText(pool.vm_size)
            self.dedicated_spin.setValue(pool.dedicated_nodes)
            self.spot_spin.setValue(pool.spot_nodes)
            self.slots_spin.setValue(pool.slots_per_node)
            self.keep_pool_check.setChecked(pool.keep_pool)
            self.form_title.setText(f"Profile '{profile.name}'" if profile else "New profile")
            self._touched = set()
            self._dirty = False
            self._set_results("", "")
            self.sign_in_label.setVisible(False)
            self.keyring_banner.setVisible(False)
        finally:
            self._loading = False
        self._apply_mode()
        self._validate()

    def _suggest_name(self) -> str:
        names = {p.name for p in self._profiles}
        for candidate in ["work"] + [f"account-{n}" for n in range(2, 100)]:
            if candidate not in names:
                return candidate
        return "account"

    def form_profile(self) -> accounts.Profile:
        """The profile as the form shows it right now (no keys)."""
        pool_id = self.pool_id_edit.text().strip()
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
            pool=PoolSettings(
                pool_id=pool_id,
                vm_size=self.vm_size_combo.currentText().strip() or PoolSettings().vm_size,
                dedicated_nodes=self.dedicated_spin.value(),
                spot_nodes=self.spot_spin.value(),
                slots_per_node=self.slots_spin.value(),
                start_task=start_task,
                keep_pool=self.keep_pool_check.isChecked(),
            ),
        )

    def _form_secrets(self) -> accounts.Secrets:
        return accounts.Secrets(
            batch_key=self.batch_key_edit.text().strip() or None,
            storage_key=self.storage_key_edit.text().strip() or None,
            storage_connection_string=self.connection_string_edit.text().strip() or None,
        )

    def _saved_secret(self, field: str) -> bool:
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
        profile = self.form_profile()
        found = dict(profile.problems())
        if profile.name and profile.name != self._editing and profile.name in {
            p.name for p in self._profiles
        }:
            found["name"] = f"There is already a profile called '{profile.name}'."
        if profile.uses_keys:
            typed = self._form_secrets()
            for field, sentence in profile.check_secrets(typed).items():
                if getattr(typed, field) or not self._saved_secret(field):
                    found[field] = sentence
        return found

    def _validate(self) -> dict[str, str]:
        problems = self.problems()
        pairs = {
            "name": self.name_error,
            "batch_url": self.batch_url_error,
            "batch_account": self.batch_account_error,
            "batch_key": self.batch_key_error,
            "storage_account": self.storage_account_error,
            "storage_key": self.storage_key_error,
            "storage_connection_string": self.connection_string_error,
            "blob_endpoint": self.blob_endpoint_error,
            "pool_id": self.pool_id_error,
            "nodes": self.nodes_error,
        }
        color = self._tone("bad")
        for field, label in pairs.items():
            sentence = problems.get(field, "")
            show = bool(sentence) and (field in self._touched or "*" in self._touched)
            label.setText(sentence if show else "")
            label.setStyleSheet(f"color: {color};")
            label.setVisible(show)
        self._update_buttons(problems)
        return problems

    def _tone(self, kind: str) -> str:
        """A text color that reads well on this palette (light or dark theme)."""
        dark = self.palette().color(QPalette.ColorRole.Window).lightness() < 128
        if kind == "good":
            return "#8fd694" if dark else "#1b6e20"
        return "#ff9e9e" if dark else "#b3261e"

    def _update_buttons(self, problems: dict[str, str] | None = None) -> None:
        if problems is None:
            problems = self.problems()
        connection_fields = {
            "batch_url", "batch_account", "batch_key", "storage_account", "storage_key",
            "storage_connection_string", "blob_endpoint",
        }
        changed = self._dirty or self._editing is None
        self.save_button.setEnabled(not self._busy and not problems and changed)
        self.test_button.setEnabled(not self._busy and not (connection_fields & set(problems)))
        self.remove_button.setEnabled(not self._busy and self._editing is not None)
        self.session_only_button.setEnabled(not self._busy and not problems)

    def _apply_mode(self) -> None:
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
        for field, edit in (("batch_key", self.batch_key_edit),
                            ("storage_key", self.storage_key_edit),
                            ("storage_connection_string", self.connection_string_edit)):
            if self._saved_secret(field):
                in_session = self._editing is not None and accounts.secrets.in_session(
                    self._editing)
                where = "kept for this session" if in_session else "saved in the system keyring"
                edit.setPlaceholderText(f"{where}; type to replace")
            elif field == "storage_connection_string":
                edit.setPlaceholderText("DefaultEndpointsProtocol=https;AccountName=…;AccountKey=…")
            else:
                edit.setPlaceholderText("88 characters ending in ==, from Keys / Access keys")

    # -- slots: the form -------------------------------------------------------------------------

    def _on_field_edited(self, field: str, _text: str) -> None:
        self._touched.add(field)

    @Slot()
    def _on_form_changed(self) -> None:
        if self._loading:
            return
        self._dirty = True
        if not self._busy:
            self._show_status("", "")  # "Saved" is no longer true
        self._validate()

    @Slot(int)
    def _on_pool_value_changed(self, _value: int) -> None:
        if self._loading:
            return
        self._touched.add("nodes")
        self._on_form_changed()

    @Slot(str)
    def _on_batch_url_edited(self, text: str) -> None:
        """Fill in the account name from the URL while the user has not typed one."""
        if "batch_account" in self._touched:
            return
        name = accounts.account_from_batch_url(text)
        if name:
            self.batch_account_edit.setText(name)

    @Slot(int)
    def _on_mode_changed(self, _index: int) -> None:
        if self._loading:
            return
        # say at once what the new mode still needs, instead of a silently grey Save
        self._touched.update({"storage_account", "storage_key", "storage_connection_string"})
        self._apply_mode()
        self._on_form_changed()

    @Slot(bool)
    def _on_show_keys_toggled(self, shown: bool) -> None:
        mode = QLineEdit.EchoMode.Normal if shown else QLineEdit.EchoMode.Password
        for edit in (self.batch_key_edit, self.storage_key_edit, self.connection_string_edit):
            edit.setEchoMode(mode)

    @Slot(int)
    def _on_profile_list_row_changed(self, row: int) -> None:
        if self._loading:
            return
        if self._dirty and not self._confirm("Discard the changes to this profile?"):
            self._reselect_editing()
            return
        name = self.profile_list.item(row).data(Qt.ItemDataRole.UserRole) if row >= 0 else None
        profile = next((p for p in self._profiles if p.name == name), None)
        self._show_profile(profile)
        self._update_buttons()

    def _reselect_editing(self) -> None:
        self.profile_list.blockSignals(True)
        names = [p.name for p in self._profiles]
        if self._editing in names:
            self.profile_list.setCurrentRow(names.index(self._editing))
        else:
            self.profile_list.clearSelection()
            self.profile_list.setCurrentRow(-1)
        self.profile_list.blockSignals(False)

    @Slot()
    def _on_add_button_clicked(self) -> None:
        if self._dirty and not self._confirm("Discard the changes to this profile?"):
            return
        self.profile_list.blockSignals(True)
        self.profile_list.setCurrentRow(-1)
        self.profile_list.clearSelection()
        self.profile_list.blockSignals(False)
        self._new_profile()

    def _new_profile(self) -> None:
        self._show_profile(None)
        self.name_edit.setFocus()

    def _confirm(self, question: str) -> bool:
        answer = QMessageBox.question(
            self, "Azure accounts", question,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    @Slot(str)
    def _on_sign_in_prompted(self, message: str) -> None:
        self.sign_in_label.setText(message)
        self.sign_in_label.setVisible(True)

    def _prompt_from_worker(self, message: str) -> None:
        """Called on a worker thread by the Entra ID device-code fallback."""
        try:
            self.sign_in_prompted.emit(message)
        except RuntimeError:  # the dialog is gone
            pass

    # -- slots: saving, removing, testing (keyring and network off the GUI thread) ---------------

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self._update_buttons()

    async def _blocking(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(None, functools.partial(fn, *args, **kwargs))
        self._tasks.add(future)
        try:
            return await future
        finally:
            self._tasks.discard(future)

    @asyncSlot()
    async def _on_save_button_clicked(self) -> None:
        await self.save(session_only=False)

    @asyncSlot()
    async def _on_session_only_button_clicked(self) -> None:
        await self.save(session_only=True)

    async def save(self, session_only: bool = False) -> bool:
        """Save the form; True when saved. A missing keyring shows the banner instead."""
        self._touched.add("*")
        if self._validate() or self._busy:
            self._show_status("Fix the fields marked in red first.", "bad")
            return False
        profile = self.form_profile()
        typed = self._form_secrets()
        old_name = self._editing
        self._set_busy(True)
        self._show_status("Saving…", "")
        try:
            await self._blocking(accounts.save_profile, profile, typed, old_name=old_name,
                                 session_only=session_only)
        except accounts.KeyringUnavailable as exc:
            if self._closed:
                return False
            self.keyring_message_label.setText(str(exc))
            self.keyring_banner.setVisible(True)
            self._show_status("Not saved yet.", "bad")
            return False
        except accounts.AccountsError as exc:
            if not self._closed:
                self._show_status(str(exc), "bad")
            return False
        finally:
            if not self._closed:
                self._set_busy(False)
        if self._closed:
            return True
        self.keyring_banner.setVisible(False)
        self._reload_profiles(select=profile.name)
        self._show_profile(next(p for p in self._profiles if p.name == profile.name))
        if not profile.uses_keys:
            where = "Entra ID sign-in needs no keys."
        elif session_only:
            where = "Its keys are kept for this session only; you will type them again next time."
        else:
            where = "Its keys are in the system keyring."
        self._show_status(f"Saved '{profile.name}'. {where}", "good")
        self.profiles_changed.emit()
        return True

    @Slot()
    def _on_remove_button_clicked(self) -> None:
        name = self._editing
        if name is None:
            return
        if not self._confirm(f"Remove the profile '{name}' and its keys from this computer?"):
            return
        task = asyncio.ensure_future(self.remove(name))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def remove(self, name: str) -> bool:
        self._set_busy(True)
        try:
            await self._blocking(accounts.remove_profile, name)
        except accounts.AccountsError as exc:
            if not self._closed:
                self._show_status(str(exc), "bad")
            return False
        finally:
            if not self._closed:
                self._set_busy(False)
        if self._closed:
            return True
        self._dirty = False
        self._reload_profiles()
        if self._profiles:
            self.profile_list.setCurrentRow(0)
        else:
            self._new_profile()
        self._show_status(f"Removed '{name}' and its keys.", "good")
        self.profiles_changed.emit()
        return True

    @asyncSlot()
    async def _on_test_button_clicked(self) -> None:
        await self.test_connection()

    async def test_connection(self) -> tuple[str, str]:
        """Check Batch and Storage with what the form holds; show each result in plain words."""
        self._touched.update({"batch_url", "batch_account", "batch_key", "storage_account",
                              "storage_key", "storage_connection_string", "blob_endpoint"})
        problems = self._validate()
        if self._busy or {"batch_url", "batch_account", "batch_key", "storage_account",
                          "storage_key", "storage_connection_string",
                          "blob_endpoint"} & set(problems):
            return "", ""
        profile = self.form_profile()
        typed = self._form_secrets()
        self._set_busy(True)
        self._set_results("Batch: checking…", "Storage: checking…", neutral=True)
        self.sign_in_label.setVisible(False)
        try:
            batch, storage = await self._blocking(
                check_connection, profile, typed, self._editing, self._prompt_from_worker)
        except Exception as exc:  # the check itself failed: say so, never a traceback
            log.warning("connection test failed: %s", type(exc).__name__)
            batch = storage = f"The test could not run ({type(exc).__name__})."
        finally:
            if not self._closed:
                self._set_busy(False)
        if not self._closed:
            self._set_results(batch, storage)
        return batch, storage

    def _set_results(self, batch: str, storage: str, neutral: bool = False) -> None:
        for label, service, result in ((self.batch_result_label, "Batch", batch),
                                       (self.storage_result_label, "Storage", storage)):
            if not result:
                label.setText("")
                label.setVisible(False)
                continue
            label.setVisible(True)
            if neutral:
                label.setText(result)
                label.setStyleSheet("")
            elif result == OK:
                label.setText(f"{service}: OK")
                label.setStyleSheet(f"color: {self._tone('good')}; font-weight: bold;")
            else:
                label.setText(f"{service}: {result}")
                label.setStyleSheet(f"color: {self._tone('bad')};")

    def _show_status(self, text: str, tone: str) -> None:
        self.status_label.setText(text)
        self.status_label.setStyleSheet(f"color: {self._tone(tone)};" if tone else "")

    # -- closing ---------------------------------------------------------------------------------

    def reject(self) -> None:
        if self._dirty and not self._confirm("Close without saving the changes?"):
            return
        super().reject()

    def done(self, result: int) -> None:
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        super().done(result)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if (event.type() == QEvent.Type.PaletteChange and not self._closed
                and hasattr(self, "nodes_error")):
            self._validate()
