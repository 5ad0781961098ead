"""Azure accounts in Settings: profiles list, add/edit/remove, and "Test connection".

Keys typed here go straight to the accounts package (the OS keyring, or this session's
memory when the user chooses that because no keyring works); the form never shows a
saved key again. Keyring and network calls run on the app's Workers (ui/workers.py):
the slots that need them are async methods awaiting `workers.run`, so the window stays
responsive, and a sign-in that waits for the user never holds up quitting.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLayout,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QStyle,
    QVBoxLayout,
    QWidget,
)
from qasync import asyncSlot

from batchgui import accounts
from batchgui.i18n import _, pgettext, tr
from batchgui.ui.connection_test import ConnectionResults, check_connection
from batchgui.ui.profile_form import CONNECTION_FIELDS, ProfileForm, tone
from batchgui.ui.profile_list import ProfileList, save_hint
from batchgui.ui.workers import Workers

log = logging.getLogger(__name__)

class SettingsDialog(QDialog):
    """The Azure accounts the target selector offers: a list of profiles and the form of one.

    Signals:
        profiles_changed(): a profile was saved or removed.
        sign_in_prompted(str): Entra ID device-code instructions, emitted from a worker thread.
    """

    profiles_changed = Signal()
    sign_in_prompted = Signal(str)

    def __init__(self, parent: QWidget | None = None, workers: Workers | None = None) -> None:
        super().__init__(parent)
        # the window lends its controller's workers; a dialog on its own brings its own
        self._own_workers = workers is None
        self._workers = workers if workers is not None else Workers(self)
        self.setObjectName("settingsDialog")
        self.setWindowTitle(_("Azure accounts"))
        self._profiles: list[accounts.Profile] = []
        self._busy = False
        self._status_is_hint = False  # the status line shows what Save still needs
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

    def _build(self) -> None:
        # left: the profiles
        self.profile_list = ProfileList()
        self.profile_list.setObjectName("profileList")
        self.profile_list.setMinimumWidth(150)
        self.profile_list.setMaximumWidth(220)
        self.profile_list.setSizePolicy(QSizePolicy.Policy.Preferred,
                                        QSizePolicy.Policy.Expanding)
        self.add_button = QPushButton(_("&Add"))
        self.add_button.setObjectName("addProfileButton")
        self.add_button.setToolTip(_("Set up another Azure account"))
        self.remove_button = QPushButton(_("&Remove"))
        self.remove_button.setObjectName("removeProfileButton")
        self.remove_button.setToolTip(_("Remove the selected profile and its keys"))
        list_buttons = QHBoxLayout()
        list_buttons.addWidget(self.add_button)
        list_buttons.addWidget(self.remove_button)
        left = QVBoxLayout()
        profiles_label = QLabel(_("&Profiles"))
        profiles_label.setBuddy(self.profile_list)
        left.addWidget(profiles_label)
        left.addWidget(self.profile_list, 1)
        left.addLayout(list_buttons)

        # right: the form, in a scroll area
        self.form = ProfileForm()
        form = self.form
        # the form's fields under the dialog's own names (tests use them)
        self.name_edit, self.auth_combo, self.tenant_edit = (
            form.name_edit, form.auth_combo, form.tenant_edit)
        self.batch_key_edit, self.storage_key_edit = form.batch_key_edit, form.storage_key_edit
        self.connection_string_edit = form.connection_string_edit
        self.storage_mode_combo, self.pool_id_edit = form.storage_mode_combo, form.pool_id_edit
        self.dedicated_spin, self.spot_spin = form.dedicated_spin, form.spot_spin

        self.test_button = QPushButton(_("&Test connection"))
        self.test_button.setObjectName("testButton")
        self.test_button.setToolTip(_("Ask Batch for one pool and Storage for one container"))
        self.results = ConnectionResults()
        self.batch_result_label = self.results.batch_result_label
        self.storage_result_label = self.results.storage_result_label
        self.sign_in_label = self.results.sign_in_label

        scroll = QScrollArea()
        scroll.setObjectName("formScroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self.form)

        self.keyring_banner = self._build_keyring_banner()

        # bottom
        self.status_label = QLabel()
        self.status_label.setObjectName("statusLabel")
        self.status_label.setWordWrap(True)
        self.status_label.setTextFormat(Qt.TextFormat.PlainText)
        self.save_button = QPushButton(_("&Save"))
        self.save_button.setObjectName("saveButton")
        self.save_button.setDefault(True)
        self.close_button = QPushButton(_("Close"))
        self.close_button.setObjectName("closeButton")
        self.close_button.setAutoDefault(False)
        # the status line has a row of its own (two lines of room, always: no jumping)
        self.status_label.setMinimumHeight(2 * self.status_label.fontMetrics().height())
        self.status_label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        bottom = QHBoxLayout()
        bottom.addWidget(self.test_button)
        bottom.addStretch(1)
        bottom.addWidget(self.save_button)
        bottom.addWidget(self.close_button)

        right = QVBoxLayout()
        right.addWidget(scroll, 1)
        right.addWidget(self.results)
        right.addWidget(self.keyring_banner)
        right.addWidget(self.status_label)
        right.addLayout(bottom)
        top = QHBoxLayout(self)
        # The layout would push a new minimum size to the window whenever a row shows or
        # hides; the scroll area absorbs those changes, so keep one fixed minimum instead.
        top.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
        self.setMinimumSize(620, 480)
        top.addLayout(left, 0)
        top.addLayout(right, 1)

    def _build_keyring_banner(self) -> QFrame:
        """"No keyring": why, and the offer to keep the keys for this session only."""
        banner = QFrame()
        banner.setObjectName("keyringBanner")
        banner.setFrameShape(QFrame.Shape.StyledPanel)
        banner.setVisible(False)
        icon = QLabel()
        icon.setPixmap(self.style().standardIcon(
            QStyle.StandardPixmap.SP_MessageBoxWarning).pixmap(32, 32))
        icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.keyring_message_label = QLabel()
        self.keyring_message_label.setObjectName("keyringMessageLabel")
        self.keyring_message_label.setWordWrap(True)
        self.keyring_message_label.setTextFormat(Qt.TextFormat.PlainText)
        self.session_only_button = QPushButton(_("Keep keys for this &session only"))
        self.session_only_button.setObjectName("sessionOnlyButton")
        self.session_only_button.setToolTip(
            _("The keys stay in memory until BatchGUI closes; they are never written to disk.")
        )
        banner_text = QVBoxLayout()
        banner_text.addWidget(self.keyring_message_label)
        banner_buttons = QHBoxLayout()
        banner_buttons.addWidget(self.session_only_button)
        banner_buttons.addStretch(1)
        banner_text.addLayout(banner_buttons)
        layout = QHBoxLayout(banner)
        layout.addWidget(icon)
        layout.addLayout(banner_text, 1)
        return banner

    def _connect(self) -> None:
        self.profile_list.currentRowChanged.connect(self._on_profile_list_row_changed)
        self.add_button.clicked.connect(self._on_add_button_clicked)
        self.remove_button.clicked.connect(self._on_remove_button_clicked)
        self.save_button.clicked.connect(self._on_save_button_clicked)
        self.session_only_button.clicked.connect(self._on_session_only_button_clicked)
        self.test_button.clicked.connect(self._on_test_button_clicked)
        self.close_button.clicked.connect(self.reject)
        self.sign_in_prompted.connect(self._on_sign_in_prompted)
        self.form.changed.connect(self._on_form_changed)

    # -- the list and the form -------------------------------------------------------------------

    def _reload_profiles(self, select: str | None = None) -> None:
        """Fill the list from the profiles file (a few hundred bytes: fine on this thread)."""
        self._profiles = accounts.load_profiles()
        self.form.others = {p.name for p in self._profiles}
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
        self.results.show_results("", "")
        self.results.show_sign_in(None)
        self.keyring_banner.setVisible(False)
        self.form.show_profile(profile, self._suggest_name())
        self._update_buttons()

    def _suggest_name(self) -> str:
        names = {p.name for p in self._profiles}
        for candidate in [pgettext("profile name", "work")] + [
                tr("account-{number}", number=str(n)) for n in range(2, 100)]:
            if candidate not in names:
                return candidate
        return pgettext("profile name", "account")

    def form_profile(self) -> accounts.Profile:
        """The profile as the form shows it right now (no keys)."""
        return self.form.profile()

    def _update_buttons(self, problems: dict[str, str] | None = None) -> None:
        if problems is None:
            problems = self.form.problems()
        changed = self.form.dirty or self.form.editing is None
        self.save_button.setEnabled(not self._busy and not problems and changed)
        hint = save_hint(problems) if not self._busy else ""
        self.save_button.setToolTip(hint or _("Save this profile"))
        if not self.status_label.text() or self._status_is_hint:
            self._show_status(hint, "")
            self._status_is_hint = bool(hint)
        self.test_button.setEnabled(not self._busy and not (CONNECTION_FIELDS & set(problems)))
        self.remove_button.setEnabled(not self._busy and self.form.editing is not None)
        self.session_only_button.setEnabled(not self._busy and not problems)

    def _validate(self) -> dict[str, str]:
        problems = self.form.validate()
        self._update_buttons(problems)
        return problems

    # -- slots: the list and the form ------------------------------------------------------------

    @Slot()
    def _on_form_changed(self) -> None:
        if not self._busy:
            self._show_status("", "")  # "Saved" is no longer true
        self._update_buttons()

    @Slot(int)
    def _on_profile_list_row_changed(self, row: int) -> None:
        if self.form.dirty and not self._confirm(_("Discard the changes to this profile?")):
            self._reselect_editing()
            return
        name = self.profile_list.item(row).data(Qt.ItemDataRole.UserRole) if row >= 0 else None
        profile = next((p for p in self._profiles if p.name == name), None)
        self._show_profile(profile)

    def _reselect_editing(self) -> None:
        self.profile_list.blockSignals(True)
        names = [p.name for p in self._profiles]
        if self.form.editing in names:
            self.profile_list.setCurrentRow(names.index(self.form.editing))
        else:
            self.profile_list.clearSelection()
            self.profile_list.setCurrentRow(-1)
        self.profile_list.blockSignals(False)

    @Slot()
    def _on_add_button_clicked(self) -> None:
        if self.form.dirty and not self._confirm(_("Discard the changes to this profile?")):
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
            self, _("Azure accounts"), question,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    @Slot(str)
    def _on_sign_in_prompted(self, message: str) -> None:
        self.results.show_sign_in(message)

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

    async def _blocking(self, fn: Callable[..., Any], *args: Any,
                        abandon_at_exit: bool = False, **kwargs: Any) -> Any:
        future = asyncio.ensure_future(self._workers.run(
            functools.partial(fn, *args, **kwargs), abandon_at_exit=abandon_at_exit))
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
        if self._closed:  # clicked just before closing: the slot runs after done()
            return False
        self.form.touched.add("*")
        if self._validate() or self._busy:
            self._show_status(_("Fix the fields marked in red first."), "bad")
            return False
        profile = self.form.profile()
        typed = self.form.secrets()
        old_name = self.form.editing
        self._set_busy(True)
        self._show_status(_("Saving…"), "")
        try:
            await self._blocking(accounts.save_profile, profile, typed, old_name=old_name,
                                 session_only=session_only)
        except accounts.KeyringUnavailable as exc:
            if self._closed:
                return False
            self.keyring_message_label.setText(str(exc))
            self.keyring_banner.setVisible(True)
            self._show_status(_("Not saved yet."), "bad")
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
            said = tr("Saved '{name}'. Entra ID sign-in needs no keys.", name=profile.name)
        elif session_only:
            said = tr("Saved '{name}'. Its keys are kept for this session only; you will type "
                      "them again next time.", name=profile.name)
        else:
            said = tr("Saved '{name}'. Its keys are in the system keyring.", name=profile.name)
        self._show_status(said, "good")
        self.profiles_changed.emit()
        return True

    @Slot()
    def _on_remove_button_clicked(self) -> None:
        name = self.form.editing
        if name is None:
            return
        if not self._confirm(tr("Remove the profile '{name}' and its keys from this computer?",
                                name=name)):
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
        self.form.dirty = False
        self._reload_profiles()
        if self._profiles:
            self.profile_list.setCurrentRow(0)
        else:
            self._new_profile()
        self._show_status(tr("Removed '{name}' and its keys.", name=name), "good")
        self.profiles_changed.emit()
        return True

    @asyncSlot()
    async def _on_test_button_clicked(self) -> None:
        await self.test_connection()

    async def test_connection(self) -> tuple[str, str]:
        """Check Batch and Storage with what the form holds; show each result in plain words."""
        if self._closed:  # clicked just before closing: the slot runs after done()
            return "", ""
        self.form.touched.update(CONNECTION_FIELDS)
        problems = self._validate()
        if self._busy or CONNECTION_FIELDS & set(problems):
            return "", ""
        profile = self.form.profile()
        typed = self.form.secrets()
        self._set_busy(True)
        self.results.show_results(_("Batch: checking…"), _("Storage: checking…"), neutral=True)
        self.results.show_sign_in(None)
        try:
            # an Entra ID sign-in may wait minutes for the user: quitting must not wait for it
            batch, storage = await self._blocking(
                check_connection, profile, typed, self.form.editing, self._prompt_from_worker,
                abandon_at_exit=True)
        except Exception as exc:  # the check itself failed: say so, never a traceback
            log.warning("connection test failed: %s", type(exc).__name__)
            batch = storage = tr("The test could not run ({error}).", error=type(exc).__name__)
        finally:
            if not self._closed:
                self._set_busy(False)
        if not self._closed:
            self.results.show_results(batch, storage)
        return batch, storage

    def _show_status(self, text: str, kind: str) -> None:
        self._status_is_hint = False  # a hint says so itself (see _update_buttons)
        self.status_label.setText(text)
        self.status_label.setStyleSheet(f"color: {tone(self, kind)};" if kind else "")

    # -- closing ---------------------------------------------------------------------------------

    def reject(self) -> None:
        if self.form.dirty and not self._confirm(_("Close without saving the changes?")):
            return
        super().reject()

    def done(self, result: int) -> None:
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        if self._own_workers:
            self._workers.close(wait=False)
        super().done(result)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if (event.type() == QEvent.Type.PaletteChange and not self._closed
                and hasattr(self, "form")):
            self._validate()
