// What a host page tells the chat (see web-widget/README.md, "A signed-in user").
// A real shop also sets user: {id, signature, name, email}, the signature made
// by its backend with the secret it shares with the chat server; this demo has
// no backend, so it only passes attributes, which agents see beside the chat.
window.SwitchboardSettings = {
  attributes: { shop: 'Acme Tea Co. (demo)', cart: 'Assam Breakfast × 2' },
};
