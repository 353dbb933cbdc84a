window.YTD.account.part0 = [
  {
    "account" : {
      "email" : "media@example-school.sa",
      "createdVia" : "web",
      "username" : "alnoor_school",
      "accountId" : "1234567890123456789",
      "createdAt" : "2015-09-01T06:30:12.000Z",
      "accountDisplayName" : "مدرسة النور 🏫"
    }
  }
]
