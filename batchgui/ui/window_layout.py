"""The main window's layout: which panel goes where, tab order, and the panels' widgets under
the window's own names (tests and packaging/screenshot.py reach them there).

    resume and leftovers banners
    files | output                      <- the top of the main splitter
    run bar (Convert, estimate, progress)
    nodes | tasks                       <- the middle splitter
    after-run bar (log, Retry failed, Open output folder)
    log
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QHBoxLayout, QSplitter, QVBoxLayout, QWidget

from batchgui.ui.files_panel import FilesPanel
from batchgui.ui.leftovers_banner import LeftoversBanner
from batchgui.ui.log_panel import LogView
from batchgui.ui.output_panel import OutputPanel
from batchgui.ui.resume_banner import ResumeBanner
from batchgui.ui.run_panel import AfterRunBar, NodesPanel, RunBar
from batchgui.ui.tasks_panel import TasksPanel

if TYPE_CHECKING:
    from batchgui.ui.main_window import MainWindow


def build_panels(window: MainWindow) -> None:
    """Make the panels and lay them out in the window."""
    window.files_panel = FilesPanel(window.file_model)
    window.output_panel = OutputPanel()
    window.run_bar = RunBar()
    window.nodes_panel = NodesPanel()
    window.tasks_panel = TasksPanel(window.task_proxy)
    window.resume_banner = ResumeBanner()
    window.leftovers_banner = LeftoversBanner()
    window.after_run_bar = AfterRunBar()
    window.log_view = LogView()

    top = QWidget()
    top_layout = QHBoxLayout(top)
    top_layout.setContentsMargins(0, 0, 0, 0)
    top_layout.addWidget(window.files_panel, 3)
    top_layout.addWidget(window.output_panel, 2)

    window.middle_splitter = QSplitter(Qt.Orientation.Horizontal)
    window.middle_splitter.addWidget(window.nodes_panel)
    window.middle_splitter.addWidget(window.tasks_panel)
    window.middle_splitter.setStretchFactor(0, 1)
    window.middle_splitter.setStretchFactor(1, 2)
    window.middle_splitter.setSizes([400, 780])
    window.middle_splitter.setChildrenCollapsible(False)

    window.main_splitter = QSplitter(Qt.Orientation.Vertical)
    window.main_splitter.setObjectName("mainSplitter")
    window.main_splitter.addWidget(top)
    run_widget = QWidget()
    run_layout = QVBoxLayout(run_widget)
    run_layout.setContentsMargins(0, 0, 0, 0)
    run_layout.addWidget(window.run_bar)
    run_layout.addWidget(window.middle_splitter, 1)
    run_layout.addWidget(window.after_run_bar)
    window.main_splitter.addWidget(run_widget)
    window.main_splitter.addWidget(window.log_view)
    window.main_splitter.setStretchFactor(0, 2)
    window.main_splitter.setStretchFactor(1, 4)
    window.main_splitter.setStretchFactor(2, 1)
    window.main_splitter.setSizes([300, 480, 120])
    window.main_splitter.setChildrenCollapsible(False)

    central = QWidget()
    layout = QVBoxLayout(central)
    layout.addWidget(window.resume_banner)
    layout.addWidget(window.leftovers_banner)
    layout.addWidget(window.main_splitter)
    window.setCentralWidget(central)

    order: list[QWidget] = [
        *window.files_panel.tab_order(), *window.output_panel.tab_order(),
        *window.run_bar.tab_order(), window.nodes_panel.node_grid,
        *window.tasks_panel.tab_order(),
        *window.after_run_bar.tab_order(), window.log_view,
    ]
    for w in order:
        if not w.accessibleName():
            w.setAccessibleName(w.text().replace("&", "").rstrip("…")
                                if hasattr(w, "text") else w.objectName())
    for first, second in zip(order, order[1:], strict=False):
        QWidget.setTabOrder(first, second)
    window.statusBar().setSizeGripEnabled(True)
    window.resize(1180, 800)
    window.setMinimumSize(QSize(760, 560))


def name_panel_widgets(window: MainWindow) -> None:
    """The panels' widgets under the window's own names."""
    files, output, bar, after = (window.files_panel, window.output_panel, window.run_bar,
                                 window.after_run_bar)
    window.file_list, window.remove_button = files.file_list, files.remove_button
    window.clear_button = files.clear_button
    window.output_folder_edit = output.output_folder_edit
    window.browse_button = output.browse_button
    window.quality_combo, window.conflict_combo = output.quality_combo, output.conflict_combo
    window.mirror_check, window.target_combo = output.mirror_check, output.target_combo
    window.keep_tags_check, window.loudness_check = output.keep_tags_check, output.loudness_check
    window.convert_button, window.cancel_button = bar.convert_button, bar.cancel_button
    window.pause_button = bar.pause_button
    window.node_grid = window.nodes_panel.node_grid
    window.task_table = window.tasks_panel.task_table
    window.failed_only_check = window.tasks_panel.failed_only_check
    window.resume_label = window.resume_banner.resume_label
    window.resume_button = window.resume_banner.resume_button
    window.dismiss_resume_button = window.resume_banner.dismiss_resume_button
    window.log_toggle, window.retry_failed_button = after.log_toggle, after.retry_failed_button
    window.open_output_button = after.open_output_button
