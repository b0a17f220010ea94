/**
 * The widget's stylesheet, scoped by its shadow root: page rules cannot reach in, these cannot
 * reach out. `.root` resets what the host page would otherwise pass down by inheritance (font,
 * color, line height, custom properties the widget uses).
 */
export const CSS = `
.root{all:initial;display:block;font-family:var(--ra-font);font-size:15px;line-height:1.45;color:#1c2024;-webkit-font-smoothing:antialiased;--ra-bg:#fff;--ra-muted:#5c6670;--ra-line:#dde1e6}
.root *,.root *::before,.root *::after{box-sizing:border-box;font:inherit;color:inherit;letter-spacing:normal;text-transform:none}
.launcher{position:fixed;bottom:20px;width:56px;height:56px;border:0;border-radius:50%;background:var(--ra-primary);color:#fff;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25);display:flex;align-items:center;justify-content:center;padding:0;margin:0}
.right .launcher,.right .panel{right:20px}.left .launcher,.left .panel{left:20px}
.launcher svg{width:26px;height:26px;fill:currentColor}
.launcher:focus-visible,.root button:focus-visible,.root a:focus-visible,.root textarea:focus-visible{outline:3px solid var(--ra-primary);outline-offset:2px}
.launcher:focus-visible{outline-color:#1c2024}
.panel{position:fixed;bottom:88px;width:380px;max-width:calc(100vw - 40px);height:560px;max-height:calc(100vh - 110px);background:var(--ra-bg);border-radius:14px;box-shadow:0 12px 40px rgba(0,0,0,.22);display:flex;flex-direction:column;overflow:hidden}
.panel[hidden]{display:none}
.inline .panel{position:relative;bottom:auto;left:auto;right:auto;width:100%;max-width:none;height:100%;min-height:420px;max-height:none;box-shadow:none;border:1px solid var(--ra-line)}
.root.inline{height:100%}
.inline .launcher,.inline .close{display:none}
header{display:flex;align-items:center;gap:8px;padding:12px 14px;background:var(--ra-primary);color:#fff}
h2{margin:0;font-size:16px;font-weight:600;flex:1;color:#fff}
.close{background:transparent;border:0;color:#fff;font-size:22px;line-height:1;cursor:pointer;width:32px;height:32px;border-radius:6px;padding:0}
.log{flex:1;overflow-y:auto;padding:14px;display:flex;flex-direction:column;gap:10px;background:#f6f7f9}
.log>*{flex-shrink:0}
.msg{max-width:88%;padding:9px 12px;border-radius:12px;white-space:pre-wrap;word-wrap:break-word;margin:0}
.user{align-self:flex-end;background:var(--ra-primary);color:#fff;border-bottom-right-radius:4px}
.assistant{align-self:flex-start;background:#fff;border:1px solid var(--ra-line);border-bottom-left-radius:4px}
.assistant a{color:var(--ra-primary);text-decoration:underline}
.cards{list-style:none;margin:0;padding:0 0 2px;display:flex;gap:8px;overflow-x:auto;align-self:stretch}
.card{flex:0 0 150px;background:#fff;border:1px solid var(--ra-line);border-radius:10px;overflow:hidden}
.card a{display:flex;flex-direction:column;height:100%;text-decoration:none;color:#1c2024}
.card img{width:100%;height:96px;object-fit:cover;background:#eef0f3;display:block}
.card .body{padding:8px;display:flex;flex-direction:column;gap:2px}
.card .name{font-size:13px;font-weight:600;display:-webkit-box;-webkit-line-clamp:2;-webkit-box-orient:vertical;overflow:hidden}
.card .price{font-size:14px}
.card .stock{font-size:12px;color:var(--ra-muted)}
.card .stock.in_stock{color:#1a7f37}
.chips{display:flex;flex-wrap:wrap;gap:6px}
.chip{border:1px solid var(--ra-primary);color:var(--ra-primary);background:#fff;border-radius:16px;padding:4px 10px;font-size:13px;cursor:pointer}
.typing{align-self:flex-start;display:flex;gap:4px;padding:12px;background:#fff;border:1px solid var(--ra-line);border-radius:12px}
.typing[hidden]{display:none}
.typing span{width:7px;height:7px;border-radius:50%;background:var(--ra-muted);animation:ra-blink 1.2s infinite both}
.typing span:nth-child(2){animation-delay:.2s}.typing span:nth-child(3){animation-delay:.4s}
@keyframes ra-blink{0%,80%,100%{opacity:.25}40%{opacity:1}}
@media (prefers-reduced-motion:reduce){.typing span{animation:none;opacity:.6}}
.notice{margin:0;padding:9px 12px;background:#fff4e5;border-top:1px solid #f0c36d;color:#5c3c00;font-size:14px}
.notice[hidden]{display:none}
form{display:flex;gap:8px;padding:10px;border-top:1px solid var(--ra-line);background:var(--ra-bg);margin:0}
textarea{flex:1;resize:none;border:1px solid var(--ra-line);border-radius:10px;padding:9px 10px;min-height:40px;max-height:120px;background:#fff;color:#1c2024}
.send{border:0;border-radius:10px;background:var(--ra-primary);color:#fff;padding:0 14px;cursor:pointer;font-weight:600}
.send:disabled{opacity:.5;cursor:default}
.sr{position:absolute;width:1px;height:1px;padding:0;margin:-1px;overflow:hidden;clip:rect(0,0,0,0);white-space:nowrap;border:0}
@media (max-width:520px){.root:not(.inline) .panel{inset:0;width:100%;max-width:none;height:100%;max-height:none;border-radius:0;bottom:0}.root:not(.inline).open .launcher{display:none}}
`;
