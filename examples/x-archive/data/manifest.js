window.__THAR_CONFIG = {
  "userInfo" : {
    "accountId" : "1234567890123456789",
    "userName" : "alnoor_school",
    "displayName" : "مدرسة النور 🏫"
  },
  "archiveInfo" : {
    "sizeBytes" : "123456",
    "generationDate" : "2024-06-01T08:00:00.000Z",
    "isPartialArchive" : false,
    "maxPartSizeBytes" : "53687091200"
  },
  "dataTypes" : {
    "tweets" : {
      "files" : [
        {
          "fileName" : "data/tweets.js",
          "globalName" : "YTD.tweets.part0",
          "count" : "7"
        }
      ]
    },
    "tweetsMedia" : {
      "mediaDirectory" : "data/tweets_media"
    }
  }
}
