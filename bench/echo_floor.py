"""The floor any WeCom bot pays: Flask + wechatpy that only checks, decrypts and echoes a text message.

    WECOM_TOKEN=… WECOM_AES_KEY=… WECOM_CORP_ID=… gunicorn -w 5 -k gthread --threads 8 bench.echo_floor:app

bench/wecom_load.py starts it next to the bot and compares the two.
"""
import os
import secrets
import time
import xml.etree.ElementTree as ET

from flask import Flask, Response, request
from wechatpy.enterprise.crypto import WeChatCrypto

crypto = WeChatCrypto(os.environ["WECOM_TOKEN"], os.environ["WECOM_AES_KEY"], os.environ["WECOM_CORP_ID"])
corp_id = os.environ["WECOM_CORP_ID"]
app = Flask(__name__)


@app.get("/healthz")
def healthz():
    return "ok"


@app.post("/wecom/callback")
def echo():
    a = request.args
    plain = crypto.decrypt_message(request.get_data(), a["msg_signature"], a["timestamp"], a["nonce"])
    msg = ET.fromstring(plain.encode())
    now = str(int(time.time()))
    reply = (f"<xml><ToUserName><![CDATA[{msg.findtext('FromUserName')}]]></ToUserName>"
             f"<FromUserName><![CDATA[{corp_id}]]></FromUserName><CreateTime>{now}</CreateTime>"
             f"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{msg.findtext('Content')}]]></Content></xml>")
    return Response(crypto.encrypt_message(reply, str(secrets.randbelow(10**9)), now), mimetype="application/xml")
