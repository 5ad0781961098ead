"""The pool part of an account profile's form: how big the pool is, and the prices.

For people who don't know node counts, "Pool size" offers "Finish in about N minutes" and
"Cheapest" (BatchGUI then chooses the nodes for each run, within a maximum, and the
estimate next to Convert says what it chose and why); "Let me choose" keeps the expert
settings: dedicated and Spot nodes and files at once per node. The VM size, the pool id
and keeping the pool are used either way. Prices need the account's region (the Batch
URL usually shows it) and a currency.

Choices that do not apply are greyed out rather than hidden, so the form never jumps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from batchgui import accounts
from batchgui.i18n import N_, _, tr
from batchgui.targets.azure.config import PoolSettings
from batchgui.targets.azure.prices import CURRENCIES, region_from_batch_url

if TYPE_CHECKING:
    from batchgui.ui.profile_form import ProfileForm

VM_SIZES = (
    "standard_d2s_v3",
    "standard_d4s_v3",
    "standard_d8s_v3",
    "standard_f2s_v2",
    "standard_f4s_v2",
    "standard_a2_v2",
)

#: the "Pool size" choices: (words, marked for translation; profile value)
POOL_SIZE_CHOICES = (
    (N_("Finish in about a time I choose"), accounts.POOL_SIZE_FINISH_IN),
    (N_("Cheapest"), accounts.POOL_SIZE_CHEAPEST),
    (N_("Let me choose the nodes"), accounts.POOL_SIZE_CHOOSE),
)


def build_pool_box(form: ProfileForm) -> QGroupBox:
    """The "Pool" box; its widgets become attributes of `form`."""
    form.pool_size_combo = QComboBox()
    form.pool_size_combo.setObjectName("poolSizeCombo")
    for words, value in POOL_SIZE_CHOICES:
        form.pool_size_combo.addItem(_(words), value)
    form.pool_size_combo.setToolTip(_(
        "BatchGUI can choose the number of nodes for each run from its files: to finish in "
        "about the time you give, or for the lowest list price. The estimate next to "
        "Convert says what it chose and why."))
    form.finish_in_spin = QSpinBox()
    form.finish_in_spin.setObjectName("finishInSpin")
    form.finish_in_spin.setRange(1, 10_000)
    form.finish_in_spin.setSuffix(" " + _("min"))
    form.max_nodes_spin = QSpinBox()
    form.max_nodes_spin.setObjectName("maxNodesSpin")
    form.max_nodes_spin.setRange(1, accounts.MAX_NODES_LIMIT)
    form.max_nodes_spin.setToolTip(_("BatchGUI never chooses more nodes than this"))
    form.allow_spot_check = QCheckBox(_("Spot nodes allo&wed"))
    form.allow_spot_check.setObjectName("allowSpotCheck")
    form.allow_spot_check.setToolTip(_("Spot nodes cost much less, but Azure may take them "
                                       "back; their files are then converted again "
                                       "elsewhere."))
    most_row = QWidget()
    most_layout = QHBoxLayout(most_row)
    most_layout.setContentsMargins(0, 0, 0, 0)
    most_layout.addWidget(form.max_nodes_spin)
    most_layout.addWidget(form.allow_spot_check)
    most_layout.addStretch(1)

    form.pool_id_edit = _line(form, "poolIdEdit", PoolSettings().pool_id)
    form.vm_size_combo = QComboBox()
    form.vm_size_combo.setObjectName("vmSizeCombo")
    form.vm_size_combo.setEditable(True)
    form.vm_size_combo.addItems(VM_SIZES)
    form.vm_size_combo.setMinimumContentsLength(22)
    form.dedicated_spin = QSpinBox()
    form.dedicated_spin.setObjectName("dedicatedNodesSpin")
    form.dedicated_spin.setRange(0, 1000)
    form.spot_spin = QSpinBox()
    form.spot_spin.setObjectName("spotNodesSpin")
    form.spot_spin.setRange(0, 1000)
    form.spot_spin.setToolTip(_("Spot nodes cost much less, but Azure may take them back; "
                                "their files are then converted again elsewhere."))
    nodes_row = QWidget()
    nodes_layout = QHBoxLayout(nodes_row)
    nodes_layout.setContentsMargins(0, 0, 0, 0)
    nodes_layout.addWidget(form.dedicated_spin)
    spot_label = QLabel(_("dedicated   +   S&pot:"))
    spot_label.setBuddy(form.spot_spin)
    nodes_layout.addWidget(spot_label)
    nodes_layout.addWidget(form.spot_spin)
    nodes_layout.addStretch(1)
    form.slots_spin = QSpinBox()
    form.slots_spin.setObjectName("slotsPerNodeSpin")
    form.slots_spin.setRange(1, 256)
    form.slots_spin.setToolTip(_("How many files each node converts at once"))
    form.keep_pool_check = QCheckBox(_("Keep the pool after a run"))
    form.keep_pool_check.setObjectName("keepPoolCheck")
    form.keep_pool_check.setToolTip(_("Faster next time, but the nodes cost money while idle"))

    pool_form = QFormLayout()
    pool_form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
    form._add_row(pool_form, _("Pool si&ze:"), form.pool_size_combo)
    form._field_row(pool_form, _("&Finish in about:"), form.finish_in_spin,
                    "finish_in_minutes", "finishInError")
    form._field_row(pool_form, _("&Most nodes:"), most_row, "max_nodes", "maxNodesError",
                    form.max_nodes_spin)
    form._add_row(pool_form, _("&VM size:"), form.vm_size_combo)
    nodes_box = form._with_error(nodes_row, form._error_label("nodes", "nodesError"))
    form._add_row(pool_form, _("&Nodes:"), nodes_box, form.dedicated_spin)
    form._add_row(pool_form, _("Files at once per no&de:"), form.slots_spin)
    form._field_row(pool_form, _("P&ool id:"), form.pool_id_edit, "pool_id", "poolIdError")
    pool_form.addRow("", form.keep_pool_check)
    pool_box = QGroupBox(_("Pool"))
    pool_box.setLayout(pool_form)
    return pool_box


def build_prices_box(form: ProfileForm) -> QGroupBox:
    """The "Prices" box: region and currency; its widgets become attributes of `form`."""
    form.region_edit = _line(form, "regionEdit", _("e.g. westeurope"))
    form.region_edit.setToolTip(_("The Azure region of the Batch account, for list prices. "
                                  "Leave it empty when the account URL shows it."))
    form.currency_combo = QComboBox()
    form.currency_combo.setObjectName("currencyCombo")
    for code in CURRENCIES:
        form.currency_combo.addItem(code, "" if code == "USD" else code)
    prices_form = QFormLayout()
    form._field_row(prices_form, _("Re&gion:"), form.region_edit, "region", "regionError")
    form._add_row(prices_form, _("C&urrency:"), form.currency_combo)
    box = QGroupBox(_("Prices"))
    box.setToolTip(_("Estimates and costs use Azure's public list prices; your own agreement "
                     "may differ."))
    box.setLayout(prices_form)
    return box


def show_pool(form: ProfileForm, profile: accounts.Profile) -> None:
    """Put a profile's pool and price settings in the form."""
    pool = profile.pool
    form.pool_size_combo.setCurrentIndex(max(0, form.pool_size_combo.findData(profile.pool_size)))
    form.finish_in_spin.setValue(profile.finish_in_minutes)
    form.max_nodes_spin.setValue(profile.max_nodes)
    form.allow_spot_check.setChecked(profile.allow_spot)
    form.pool_id_edit.setText(pool.pool_id)
    form.vm_size_combo.setCurrentText(pool.vm_size)
    form.dedicated_spin.setValue(pool.dedicated_nodes)
    form.spot_spin.setValue(pool.spot_nodes)
    form.slots_spin.setValue(pool.slots_per_node)
    form.keep_pool_check.setChecked(pool.keep_pool)
    form.region_edit.setText(profile.region)
    form.currency_combo.setCurrentIndex(
        max(0, form.currency_combo.findData(profile.currency.upper())))


class PoolFields(TypedDict):
    """The pool and price fields of a Profile, as the form shows them."""

    pool: PoolSettings
    pool_size: str
    finish_in_minutes: int
    max_nodes: int
    allow_spot: bool
    region: str
    currency: str


def read_pool(form: ProfileForm, start_task: str) -> PoolFields:
    """The pool and price fields of the profile the form shows (Profile keyword arguments)."""
    return {
        "pool": PoolSettings(
            pool_id=form.pool_id_edit.text().strip(),
            vm_size=form.vm_size_combo.currentText().strip() or PoolSettings().vm_size,
            dedicated_nodes=form.dedicated_spin.value(),
            spot_nodes=form.spot_spin.value(),
            slots_per_node=form.slots_spin.value(),
            start_task=start_task,
            keep_pool=form.keep_pool_check.isChecked(),
        ),
        "pool_size": str(form.pool_size_combo.currentData()),
        "finish_in_minutes": form.finish_in_spin.value(),
        "max_nodes": form.max_nodes_spin.value(),
        "allow_spot": form.allow_spot_check.isChecked(),
        "region": form.region_edit.text().strip().lower(),
        "currency": str(form.currency_combo.currentData() or ""),
    }


def apply_pool_mode(form: ProfileForm) -> None:
    """Grey out what the pool size choice does not use (nothing moves), and say where the
    region comes from when the account URL shows it."""
    mode = form.pool_size_combo.currentData()
    chooses = mode == accounts.POOL_SIZE_CHOOSE
    form.finish_in_spin.setEnabled(mode == accounts.POOL_SIZE_FINISH_IN)
    form.max_nodes_spin.setEnabled(not chooses)
    form.allow_spot_check.setEnabled(not chooses)
    for widget in (form.dedicated_spin, form.spot_spin, form.slots_spin):
        widget.setEnabled(chooses)
        widget.setToolTip("" if chooses else
                          _("BatchGUI chooses this for each run (Pool size above)"))
    shown = region_from_batch_url(form.batch_url_edit.text())
    form.region_edit.setPlaceholderText(
        tr("{region} (from the account URL)", region=shown) if shown else _("e.g. westeurope"))


def _line(form: ProfileForm, name: str, placeholder: str) -> QLineEdit:
    edit = QLineEdit()
    edit.setObjectName(name)
    edit.setPlaceholderText(placeholder)
    edit.setClearButtonEnabled(True)
    return edit
