{
  "payload": "eyJfdHlwZSI6Imh0dHBzOi8vaW4tdG90by5pby9TdGF0ZW1lbnQvdjEiLCJwcmVkaWNhdGUiOnsiY292ZXJzIjoid2VpZ2h0cytpbmZvIiwiaW5mb19kaWdlc3QiOnsic2hhMjU2IjoiN2IwMDExZTRlMTkzYjhkZThkZmY2MmI1YjFhYjcxNDcyNTU3YTRkMDQ1NzNhNDU3YjNkZmIwMzAzYjY3ODM0MyJ9fSwicHJlZGljYXRlVHlwZSI6Imh0dHBzOi8vb3BlbndlaWdodHMub3JnL293Zi9zaWduYXR1cmUvdjEiLCJzdWJqZWN0IjpbeyJkaWdlc3QiOnsic2hhMjU2IjoiYjY1NDc1OGI3ZTc0MDRjOTk5MTBkZTdjZWZjNGI3NDBhYzQzNmI1N2VkNWNiMjA1ZmRlZjBkZDIxODg2MGUxMyJ9LCJuYW1lIjoibS5vd2YifV19",
  "payloadType": "application/vnd.in-toto+json",
  "signatures": [
    {
      "keyid": "be1f461d9f47ff7206d4f306536271d2295980429cf5c31f1f0b3cd3b5f256ce",
      "sig": "8I0W7Sq2Tf/ztuod+/yB9jY0Szr7eMt1Jprgwmw/9Stv4Vun63Bv7NOtYKvwXhkJPSgxnbwjsWfUsh+mvwj3BA=="
    }
  ]
}
