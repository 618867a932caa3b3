/* The browser build of dingtalk-jsapi 3.2.9 the board vendors: the core with its platform bridges
   (dingtalk-jsapi/entry/union: the JSAPI's own environment check, dd.env) and the one API the board
   uses, dd.runtime.permission.requestAuthCode (in-app 免登). Exposed as window.dd. */
var dd = require("dingtalk-jsapi/entry/union");
var requestAuthCode = require("dingtalk-jsapi/api/runtime/permission/requestAuthCode").default;

dd.runtime = { permission: { requestAuthCode: requestAuthCode } };
window.dd = dd;
