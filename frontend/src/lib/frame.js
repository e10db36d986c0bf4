// Work coalesced to animation frames: however often it is asked for, `fn` runs once per frame.

/** A function that asks for `fn` to run at the next animation frame (once, however often it is called before then). */
export function nextFrame(fn, request = (cb) => requestAnimationFrame(cb)) {
  let requested = false;
  return () => {
    if (requested) return;
    requested = true;
    request(() => { requested = false; fn(); });
  };
}
