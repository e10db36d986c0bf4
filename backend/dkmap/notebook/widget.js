// The anywidget front end: the DKMap app in an iframe served by the kernel's server, and a
// postMessage bridge (frontend/src/lib/embedBridge.js on the other side) carrying the app's state
// to the model (`_ui`) and Python's highlight and view requests to the app.
function render({ model, el }) {
  const token = model.get('_token');
  const url = new URL(model.get('_url'));
  const iframe = document.createElement('iframe');
  iframe.src = url.href;
  iframe.title = 'DKMap';
  iframe.className = 'dkmap-widget';
  iframe.style.cssText = `width: 100%; height: ${model.get('height')}px; border: 1px solid #ccc;`;
  el.append(iframe);

  const send = (type, payload) => iframe.contentWindow?.postMessage({ source: 'dkmap-widget', token, type, ...payload }, url.origin);
  const sendHighlight = () => send('select', { rows: model.get('_highlight_rows'), label: model.get('_highlight_label') });
  const sendView = () => { const view = model.get('_view_request'); if (view && Object.keys(view).length) send('view', { view }); };

  function onMessage(event) {
    if (event.source !== iframe.contentWindow || event.origin !== url.origin) return;
    const msg = event.data;
    if (!msg || msg.source !== 'dkmap' || msg.token !== token) return;
    if (msg.type === 'ready') { sendHighlight(); sendView(); }
    if (msg.type === 'state') { model.set('_ui', msg.state); model.save_changes(); }
  }
  window.addEventListener('message', onMessage);
  model.on('change:_highlight_rows', sendHighlight);
  model.on('change:_view_request', sendView);
  return () => window.removeEventListener('message', onMessage);
}

export default { render };
