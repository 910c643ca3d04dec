"""The dependency view of a run: targets at the top, each expanding into what it needs."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from .. import format as fmt


class DepTree(Tree[str]):
    """A tree of step unique ids; children are added when a node is first expanded.

    A run's graph is a DAG: shared dependencies appear under every step that needs them, so
    nodes are built lazily to keep a 1,000-step run cheap. Selecting a node announces
    :class:`DepTree.StepChosen`.
    """

    ICON_NODE = "+ "
    ICON_NODE_EXPANDED = "- "
    # Not Tree's ▶/▼: ▶ is the "running" state icon right beside them.

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open_node", "Open step", tooltip="Open the step under the cursor"),
        Binding("space", "toggle_node", "Expand", show=False, tooltip="Expand/collapse a node"),
        Binding("j", "cursor_down", "Down", show=False, tooltip="Next node"),
        Binding("k", "cursor_up", "Up", show=False, tooltip="Previous node"),
    ]

    class StepChosen(Message):
        """The user picked the step ``uid`` in the tree."""

        def __init__(self, uid: str, open: bool = False) -> None:
            super().__init__()
            self.uid = uid
            """Unique id of the chosen step."""
            self.open = open
            """Open the step (enter), not only select it in the table (a click)."""

    def __init__(self, label: str, **kwargs: Any) -> None:
        super().__init__(label, **kwargs)
        self.show_root = False
        self.guide_depth = 2
        self.steps: dict[str, Any] = {}
        """The latest StepRow per unique id."""
        self._uid_nodes: dict[str, list[TreeNode[str]]] = {}

    def _label(self, step: Any) -> Text:
        value = str(step.state)
        label = Text(fmt.STATE_ICON.get(value, "?") + " ", style=fmt.STATE_STYLE.get(value, ""))
        label.append(step.name, style="bold" if step.target else "")
        return label

    def set_steps(self, steps: list[Any]) -> None:
        """Show the run's steps; relabel nodes whose state changed."""
        first = not self.steps
        old = self.steps
        self.steps = {s.unique_id: s for s in steps}
        if first:
            targets = [s for s in steps if s.target] or steps[-1:]
            for step in reversed(targets):
                self._add(self.root, step.unique_id)
            self.root.expand()
            if len(targets) <= 10:
                # Few targets: show what each needs straight away.
                for node in self.root.children:
                    node.expand()
            return
        for uid, step in self.steps.items():
            before = old.get(uid)
            if before is None or str(before.state) != str(step.state):
                for node in self._uid_nodes.get(uid, []):
                    node.set_label(self._label(step))

    def _add(self, parent: TreeNode[str], uid: str) -> None:
        step = self.steps.get(uid)
        if step is None:
            parent.add_leaf(Text(f"? {uid}", style="dim"), data=uid)
            return
        deps = [d for d in step.dependencies]
        node = parent.add(self._label(step), data=uid, allow_expand=bool(deps))
        self._uid_nodes.setdefault(uid, []).append(node)

    def on_tree_node_expanded(self, event: Tree.NodeExpanded[str]) -> None:
        event.stop()
        node = event.node
        if node.children or node.data is None:
            return
        step = self.steps.get(node.data)
        for dep in sorted(step.dependencies if step else (), key=self._name_of):
            self._add(node, dep)

    def _name_of(self, uid: str) -> str:
        step = self.steps.get(uid)
        return step.name if step else uid

    def action_open_node(self) -> None:
        """Open the step under the cursor."""
        node = self.cursor_node
        if node is not None and node.data is not None:
            self.post_message(self.StepChosen(node.data, open=True))

    def on_tree_node_selected(self, event: Tree.NodeSelected[str]) -> None:
        event.stop()
        if event.node.data is not None:
            self.post_message(self.StepChosen(event.node.data))
