window.YTD.like.part0 = [
  {
    "like" : {
      "tweetId" : "1780000000000000001",
      "fullText" : "منشور أعجبني",
      "expandedUrl" : "https://twitter.com/i/web/status/1780000000000000001"
    }
  }
]
