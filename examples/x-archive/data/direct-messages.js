window.YTD.direct_messages.part0 = [
  {
    "dmConversation" : {
      "conversationId" : "987654321-1234567890123456789",
      "messages" : [
        {
          "messageCreate" : {
            "recipientId" : "1234567890123456789",
            "reactions" : [ ],
            "urls" : [ ],
            "text" : "رسالة خاصة: رقم جوالي ٠٥٥٠٠٠٠٠٠٠",
            "mediaUrls" : [ ],
            "senderId" : "987654321",
            "id" : "1790000000000005555",
            "createdAt" : "2024-05-12T10:00:00.000Z"
          }
        }
      ]
    }
  }
]
