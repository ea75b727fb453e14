"""The widget that shows a console's framebuffer and sends it keyboard, mouse and wheel input.

The image wraps the session's framebuffer memory (no copy); an update repaints only its rectangle.
It fits the window keeping the aspect ratio, or shows a fixed zoom where 100 % is one guest pixel per
device pixel (HiDPI correct). A click grabs the keyboard so the desktop's shortcuts reach the guest;
the release combination (Ctrl+Alt by default) gives it back.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QPointF, QRect, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QCursor,
    QFocusEvent,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPixmap,
    QRegion,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QApplication, QWidget

from vmgui.console import keymap
from vmgui.console.framebuffer import Framebuffer
from vmgui.console.session import (
    BUTTON_LEFT,
    BUTTON_MIDDLE,
    BUTTON_RIGHT,
    WHEEL_DOWN,
    WHEEL_LEFT,
    WHEEL_RIGHT,
    WHEEL_UP,
    ConsoleSession,
)
from vmgui.console.state import ConsoleState, ConsoleStatus, CursorImage
from vmgui.ui.console.qt_keys import key_for_event

REPAINT_MS = 8  # updates gathered before a repaint: at most ~120 repaints a second
ZOOM_STEPS = (0.25, 0.33, 0.5, 0.67, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0)
_BUTTONS = ((Qt.MouseButton.LeftButton, BUTTON_LEFT), (Qt.MouseButton.MiddleButton, BUTTON_MIDDLE),
            (Qt.MouseButton.RightButton, BUTTON_RIGHT))
_LEFT_OF = {0x9D: 0x1D, 0xB8: 0x38, 0x36: 0x2A, 0xDC: 0xDB}  # right-hand modifiers count as left ones
_BACKGROUND = QColor(24, 24, 24)


def image_of(fb: Framebuffer) -> QImage:
    """A QImage over the framebuffer's memory (no copy; valid while `fb` lives)."""
    return QImage(fb.view(), fb.width, fb.height, fb.stride, QImage.Format.Format_RGB32)


class ConsoleDisplay(QWidget):
    grab_changed = Signal(bool)
    zoom_changed = Signal()
    exit_combo_pressed = Signal()  # kiosk mode's way out

    def __init__(self, session: ConsoleSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setAttribute(Qt.WidgetAttribute.WA_InputMethodEnabled, False)
        self.fit = True
        self.zoom = 1.0
        self.grabbed = False
        self.view_only = False  # watch only: keys and the mouse never reach the guest
        self.release_combo: frozenset[int] = frozenset()
        self.exit_combo: frozenset[int] = frozenset()  # set in kiosk mode; the grab then stays on
        self._hotkeys: list[tuple[frozenset[int], Callable[[], object]]] = []
        self.release_label = ""
        self.set_release_combo("ctrl+alt", "Ctrl+Alt")
        self._image: QImage | None = None
        self._fb: Framebuffer | None = None
        self._pressed: dict[int, int] = {}  # qnum -> keysym of keys sent down and not yet up
        self._buttons = 0
        self._wheel = QPointF(0, 0)
        self._dirty = QRegion()
        self._repaint_timer = QTimer(self, singleShot=True, interval=REPAINT_MS)
        self._repaint_timer.timeout.connect(self._repaint_dirty)
        session.frame_updated.connect(self._frame_updated)
        session.resized.connect(self._resized)
        session.status_changed.connect(self._status_changed)
        session.cursor_changed.connect(self._cursor_changed)
        if session.framebuffer is not None:
            self._resized(session.framebuffer)

    def detach(self) -> None:
        """Stop listening to the session (before the widget goes away)."""
        self.session.frame_updated.disconnect(self._frame_updated)
        self.session.resized.disconnect(self._resized)
        self.session.status_changed.disconnect(self._status_changed)
        self.session.cursor_changed.disconnect(self._cursor_changed)

    # ---- geometry -------------------------------------------------------------------------------

    def image(self) -> QImage | None:
        """The live image (shares the framebuffer memory); copy it to keep it."""
        return self._image

    def guest_size(self) -> QSize:
        return QSize(self._fb.width, self._fb.height) if self._fb is not None else QSize(0, 0)

    def scale(self) -> float:
        """Logical pixels per guest pixel."""
        fb = self._fb
        if fb is None:
            return 1.0
        if self.fit:
            return min(self.width() / fb.width, self.height() / fb.height) if self.width() and self.height() else 1.0
        return self.zoom / self.devicePixelRatioF()

    def target(self) -> QRectF:
        """Where the guest screen is drawn in this widget, centred."""
        fb = self._fb
        if fb is None:
            return QRectF()
        s = self.scale()
        w, h = fb.width * s, fb.height * s
        return QRectF(max(0.0, (self.width() - w) / 2), max(0.0, (self.height() - h) / 2), w, h)

    def set_fit(self) -> None:
        self.fit = True
        self._relayout()

    def set_zoom(self, zoom: float) -> None:
        self.fit = False
        self.zoom = max(ZOOM_STEPS[0], min(ZOOM_STEPS[-1], zoom))
        self._relayout()

    def zoom_in(self) -> None:
        current = self.effective_zoom()
        self.set_zoom(next((z for z in ZOOM_STEPS if z > current + 1e-3), ZOOM_STEPS[-1]))

    def zoom_out(self) -> None:
        current = self.effective_zoom()
        self.set_zoom(next((z for z in reversed(ZOOM_STEPS) if z < current - 1e-3), ZOOM_STEPS[0]))

    def effective_zoom(self) -> float:
        """Guest pixels to device pixels, whatever the mode (1.0 = 1:1)."""
        return self.scale() * self.devicePixelRatioF()

    def sizeHint(self) -> QSize:
        fb = self._fb
        if fb is None:
            return QSize(640, 480)
        s = self.zoom / self.devicePixelRatioF()
        return QSize(round(fb.width * s), round(fb.height * s))

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self.fit:
            self.zoom_changed.emit()

    def _relayout(self) -> None:
        if not self.fit:
            self.resize(self.sizeHint())
        self.updateGeometry()
        self.update()
        self.zoom_changed.emit()

    def to_guest(self, pos: QPointF) -> tuple[int, int]:
        target, s = self.target(), self.scale()
        return int((pos.x() - target.x()) / s), int((pos.y() - target.y()) / s)

    # ---- session events -------------------------------------------------------------------------

    def _resized(self, fb: Framebuffer | None) -> None:
        self._fb = fb
        self._image = image_of(fb) if fb is not None else None
        self._relayout()

    def widget_rect(self, x: int, y: int, w: int, h: int) -> QRect:
        """The part of this widget that shows the guest rectangle (x, y, w, h)."""
        target, s = self.target(), self.scale()
        return QRectF(target.x() + x * s, target.y() + y * s, w * s, h * s).toAlignedRect()

    def _frame_updated(self, x: int, y: int, w: int, h: int) -> None:
        # Gather updates and repaint at most once a frame: spice-glib reports a redraw as hundreds of
        # 32-pixel strips, each in its own dispatch, and a repaint per strip saturated the GUI thread.
        self._dirty += self.widget_rect(x, y, w, h).adjusted(-1, -1, 1, 1)
        if not self._repaint_timer.isActive():
            self._repaint_timer.start()

    def _repaint_dirty(self) -> None:
        dirty, self._dirty = self._dirty, QRegion()
        self.update(dirty)

    def _status_changed(self, status: ConsoleStatus) -> None:
        if status.state is not ConsoleState.CONNECTED:
            self._pressed.clear()
            self._buttons = 0
            self.unsetCursor()  # a guest's hidden or custom pointer does not outlive the connection
            if self.session.framebuffer is None:
                self._fb, self._image = None, None
        self.update()

    def _cursor_changed(self, cursor: CursorImage | None) -> None:
        if cursor is None:
            self.unsetCursor()
            return
        if cursor.width <= 1 and cursor.height <= 1:
            self.setCursor(Qt.CursorShape.BlankCursor)
            return
        img = QImage(cursor.rgba, cursor.width, cursor.height, cursor.width * 4, QImage.Format.Format_RGBA8888)
        self.setCursor(QCursor(QPixmap.fromImage(img.copy()), cursor.hot_x, cursor.hot_y))

    # ---- painting -------------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        image, target = self._image, self.target()
        exposed = QRectF(event.rect())
        if image is None or target.isEmpty():
            painter.fillRect(exposed, _BACKGROUND)
            self._paint_status(painter)
            return
        bars = event.region().subtracted(QRegion(target.toAlignedRect()))
        for rect in list(bars):  # type: ignore[call-overload]  # QRegion iterates its rectangles
            painter.fillRect(rect, _BACKGROUND)  # letterbox bars (the image covers the rest)
        part = exposed.intersected(target)
        if not part.isEmpty():
            s = self.scale()
            source = QRectF((part.x() - target.x()) / s, (part.y() - target.y()) / s, part.width() / s,
                            part.height() / s)
            if abs(self.effective_zoom() - 1.0) > 1e-3:
                painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawImage(part, image, source)
        if self.session.status.state is not ConsoleState.CONNECTED:
            painter.fillRect(self.rect(), QColor(0, 0, 0, 150))
            self._paint_status(painter)

    def _paint_status(self, painter: QPainter) -> None:
        status = self.session.status
        if status.state is ConsoleState.CONNECTED:
            return
        painter.setPen(QColor(230, 230, 230))
        font = painter.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        painter.setFont(font)
        painter.drawText(self.rect().adjusted(24, 24, -24, -24),
                         Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, status.text())

    # ---- keyboard -------------------------------------------------------------------------------

    def set_grabbed(self, grabbed: bool) -> None:
        if grabbed == self.grabbed:
            return
        self.grabbed = grabbed
        if grabbed:
            self.setFocus(Qt.FocusReason.MouseFocusReason)
            self.grabKeyboard()
        else:
            self.releaseKeyboard()
        self.grab_changed.emit(grabbed)

    def set_release_combo(self, combo: str, label: str) -> None:
        """The keys that, held together, give the keyboard back (e.g. "ctrl+alt")."""
        self.release_combo = frozenset(_LEFT_OF.get(q, q) for _, q in keymap.combo(combo))
        self.release_label = label

    def release_keys(self) -> None:
        """Send key-ups for every key the guest thinks is down (after focus loss, grab release)."""
        for qnum, keysym in list(self._pressed.items()):
            self.session.send_key(False, keysym, qnum)
        self._pressed.clear()

    def send_combo(self, name: str) -> None:
        """Press the keys of a combination ("ctrl+alt+del") in order and release them in reverse."""
        keys = keymap.combo(name)
        for keysym, qnum in keys:
            self.session.send_key(True, keysym, qnum)
        for keysym, qnum in reversed(keys):
            self.session.send_key(False, keysym, qnum)

    def type_text(self, text: str) -> str:
        """Type `text` as US-layout keystrokes; returns the characters that have no key."""
        strokes, skipped = keymap.strokes_for_text(text)
        shift_sym, shift_qnum = keymap.combo("shift")[0]
        for stroke in strokes:
            if stroke.shift:
                self.session.send_key(True, shift_sym, shift_qnum)
            self.session.send_key(True, stroke.keysym, stroke.qnum)
            self.session.send_key(False, stroke.keysym, stroke.qnum)
            if stroke.shift:
                self.session.send_key(False, shift_sym, shift_qnum)
        return skipped

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and self.grabbed:
            event.accept()  # while grabbed, the window's shortcuts do not steal keys from the guest
            return True
        return super().event(event)

    def focusNextPrevChild(self, next: bool) -> bool:
        return False  # Tab goes to the guest

    def keyPressEvent(self, event: QKeyEvent) -> None:
        self._key(event, True)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        self._key(event, False)

    def _key(self, event: QKeyEvent, down: bool) -> None:
        event.accept()
        if self.view_only:
            return
        key = key_for_event(event, QApplication.platformName())
        if key is None:
            return
        keysym, qnum = key
        if down:
            self._pressed[qnum] = keysym
        elif qnum not in self._pressed:
            return  # its press went elsewhere (or was the release combo)
        else:
            del self._pressed[qnum]
        if down and self._combo_down(self.exit_combo):
            self.release_keys()
            self.exit_combo_pressed.emit()
            return
        hotkey = next((action for keys, action in self._hotkeys if qnum in keys and self._combo_down(keys)), None)
        if down and hotkey is not None:
            self.release_keys()  # the guest sees the modifiers go up; the hotkey's own key never reaches it
            hotkey()
            return
        self.session.send_key(down, keysym, qnum)
        if down and self.grabbed and not self.exit_combo and self._combo_down(self.release_combo):
            self.release_keys()
            self.set_grabbed(False)

    def _combo_down(self, combo: frozenset[int]) -> bool:
        down = {_LEFT_OF.get(q, q) for q in self._pressed}
        return bool(combo) and combo <= down

    def add_hotkey(self, combo: str, action: Callable[[], object]) -> None:
        """A key combination vmgui acts on (even while grabbed) instead of sending it to the guest."""
        self._hotkeys.append((frozenset(_LEFT_OF.get(q, q) for _, q in keymap.combo(combo)), action))

    def set_exit_combo(self, combo: str) -> None:
        """Kiosk mode: this combination asks to quit, and the keyboard grab is never released."""
        self.exit_combo = frozenset(_LEFT_OF.get(q, q) for _, q in keymap.combo(combo))

    def focusOutEvent(self, event: QFocusEvent) -> None:
        self.release_keys()
        super().focusOutEvent(event)

    # ---- mouse ----------------------------------------------------------------------------------

    def _send_pointer(self, pos: QPointF, buttons: int) -> None:
        if self.view_only:
            return
        x, y = self.to_guest(pos)
        self.session.send_pointer(buttons, x, y)

    def _mask(self, event: QMouseEvent) -> int:
        mask = 0
        for qt_button, bit in _BUTTONS:
            if event.buttons() & qt_button:
                mask |= bit
        return mask

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if not self.grabbed and not self.view_only and self.session.status.state is ConsoleState.CONNECTED:
            self.set_grabbed(True)
        self._buttons = self._mask(event)
        self._send_pointer(event.position(), self._buttons)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._buttons = self._mask(event)
        self._send_pointer(event.position(), self._buttons)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        self._buttons = self._mask(event)
        self._send_pointer(event.position(), self._buttons)

    def wheelEvent(self, event: QWheelEvent) -> None:
        self._wheel += QPointF(event.angleDelta())
        steps: list[int] = []
        while abs(self._wheel.y()) >= 120:
            up = self._wheel.y() > 0
            steps.append(WHEEL_UP if up else WHEEL_DOWN)
            self._wheel.setY(self._wheel.y() - (120 if up else -120))
        while abs(self._wheel.x()) >= 120:
            left = self._wheel.x() > 0
            steps.append(WHEEL_LEFT if left else WHEEL_RIGHT)
            self._wheel.setX(self._wheel.x() - (120 if left else -120))
        for bit in steps:
            self._send_pointer(event.position(), self._buttons | bit)
            self._send_pointer(event.position(), self._buttons)
        event.accept()

