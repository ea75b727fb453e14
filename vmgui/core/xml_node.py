"""Typed properties over an lxml element: the building blocks of the domain XML model.

A property names a path below its element ("os/type", "source") and, optionally, an attribute. Reading
a missing element gives None; setting None removes what the property owns (and parents it left empty
that it created); setting a value creates the path. Nothing else in the tree is touched, so XML the
model does not know survives a round trip unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

from lxml import etree

T = TypeVar("T")
Element = etree._Element


class XmlNode:
    """An object that wraps one element; its XmlProperty attributes read and write below it."""

    def __init__(self, element: Element) -> None:
        self.element = element

    def find(self, path: str) -> Element | None:
        return self.element.find(path)


def ensure_path(element: Element, path: str) -> Element:
    """The element at `path` ("a/b/c", plain tag names) below `element`, created where missing."""
    node = element
    for tag in path.split("/"):
        child = node.find(tag)
        if child is None:
            child = etree.SubElement(node, tag)
        node = child
    return node


def remove_empty(element: Element, path: str) -> None:
    """Remove the elements of `path` from the innermost out while they have no attributes, text or children."""
    tags = path.split("/")
    for depth in range(len(tags), 0, -1):
        node = element.find("/".join(tags[:depth]))
        if node is None:
            continue
        if len(node) or node.attrib or (node.text and node.text.strip()):
            return
        parent = node.getparent()
        if parent is not None:
            parent.remove(node)


class XmlProperty(Generic[T]):
    """A value at `path` below the node's element: its text, or the attribute `attr` if given."""

    def __init__(self, path: str | None, attr: str | None = None, *, parse: Callable[[str], T],
                 format: Callable[[T], str] = str) -> None:
        self.path = path
        self.attr = attr
        self.parse = parse
        self.format = format

    def _target(self, node: XmlNode) -> Element | None:
        return node.element if self.path is None else node.element.find(self.path)

    @overload
    def __get__(self, node: None, owner: type) -> XmlProperty[T]: ...
    @overload
    def __get__(self, node: XmlNode, owner: type) -> T | None: ...

    def __get__(self, node: XmlNode | None, owner: type) -> Any:
        if node is None:
            return self
        target = self._target(node)
        if target is None:
            return None
        raw = target.get(self.attr) if self.attr else target.text
        if raw is None or (self.attr is None and not raw.strip()):
            return None
        return self.parse(raw.strip())

    def __set__(self, node: XmlNode, value: T | None) -> None:
        if value is None:
            target = self._target(node)
            if target is None:
                return
            if self.attr:
                if self.attr in target.attrib:
                    del target.attrib[self.attr]
            else:
                target.text = None
            if self.path is not None:
                remove_empty(node.element, self.path)
            return
        target = node.element if self.path is None else ensure_path(node.element, self.path)
        if self.attr:
            target.set(self.attr, self.format(value))
        else:
            target.text = self.format(value)


def text(path: str | None, attr: str | None = None) -> XmlProperty[str]:
    return XmlProperty(path, attr, parse=str)


def integer(path: str | None, attr: str | None = None) -> XmlProperty[int]:
    return XmlProperty(path, attr, parse=int)


def yes_no(path: str | None, attr: str) -> XmlProperty[bool]:
    return XmlProperty(path, attr, parse=lambda v: v == "yes", format=lambda v: "yes" if v else "no")


class FlagProperty:
    """True when the element at `path` exists (like <readonly/> or <acpi/>)."""

    def __init__(self, path: str) -> None:
        self.path = path

    @overload
    def __get__(self, node: None, owner: type) -> FlagProperty: ...
    @overload
    def __get__(self, node: XmlNode, owner: type) -> bool: ...

    def __get__(self, node: XmlNode | None, owner: type) -> Any:
        if node is None:
            return self
        return node.element.find(self.path) is not None

    def __set__(self, node: XmlNode, value: bool) -> None:
        found = node.element.find(self.path)
        if value and found is None:
            ensure_path(node.element, self.path)
        elif not value and found is not None:
            parent = found.getparent()
            if parent is not None:
                parent.remove(found)
            if "/" in self.path:
                remove_empty(node.element, self.path.rsplit("/", 1)[0])
