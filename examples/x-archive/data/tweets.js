window.YTD.tweets.part0 = [
  {
    "tweet" : {
      "edit_info" : {
        "initial" : {
          "editTweetIds" : [
            "1790000000000000001"
          ],
          "editableUntil" : "2024-05-12T10:15:00.000Z",
          "editsRemaining" : "5",
          "isEditEligible" : true
        }
      },
      "retweeted" : false,
      "source" : "<a href=\"https://mobile.twitter.com\" rel=\"nofollow\">Twitter Web App</a>",
      "entities" : {
        "hashtags" : [
          {
            "text" : "يوم_التأسيس",
            "indices" : [
              "24",
              "36"
            ]
          }
        ],
        "symbols" : [ ],
        "user_mentions" : [ ],
        "urls" : [ ],
        "media" : [
          {
            "expanded_url" : "https://twitter.com/alnoor_school/status/1790000000000000001/photo/1",
            "indices" : [
              "37",
              "60"
            ],
            "url" : "https://t.co/Ph0t0AbCd",
            "media_url" : "http://pbs.twimg.com/media/GNa1bC2XsAAq9Zk.jpg",
            "id_str" : "1790000000000000100",
            "id" : "1790000000000000100",
            "media_url_https" : "https://pbs.twimg.com/media/GNa1bC2XsAAq9Zk.jpg",
            "sizes" : {
              "large" : { "w" : "2048", "h" : "1536", "resize" : "fit" }
            },
            "type" : "photo",
            "display_url" : "pic.x.com/ph0t0abcd"
          }
        ]
      },
      "display_text_range" : [
        "0",
        "36"
      ],
      "favorite_count" : "42",
      "id_str" : "1790000000000000001",
      "truncated" : false,
      "retweet_count" : "7",
      "id" : "1790000000000000001",
      "possibly_sensitive" : false,
      "created_at" : "Sun May 12 08:00:00 +0000 2024",
      "favorited" : false,
      "full_text" : "احتفلنا اليوم بطلابنا ١٢٣ 🎉 #يوم_التأسيس https://t.co/Ph0t0AbCd",
      "lang" : "ar",
      "extended_entities" : {
        "media" : [
          {
            "expanded_url" : "https://twitter.com/alnoor_school/status/1790000000000000001/photo/1",
            "indices" : [
              "37",
              "60"
            ],
            "url" : "https://t.co/Ph0t0AbCd",
            "media_url" : "http://pbs.twimg.com/media/GNa1bC2XsAAq9Zk.jpg",
            "id_str" : "1790000000000000100",
            "id" : "1790000000000000100",
            "media_url_https" : "https://pbs.twimg.com/media/GNa1bC2XsAAq9Zk.jpg",
            "sizes" : {
              "large" : { "w" : "2048", "h" : "1536", "resize" : "fit" }
            },
            "type" : "photo",
            "display_url" : "pic.x.com/ph0t0abcd"
          }
        ]
      }
    }
  },
  {
    "tweet" : {
      "retweeted" : false,
      "source" : "<a href=\"http://twitter.com/download/iphone\" rel=\"nofollow\">Twitter for iPhone</a>",
      "entities" : {
        "hashtags" : [ ],
        "symbols" : [ ],
        "user_mentions" : [ ],
        "urls" : [ ]
      },
      "display_text_range" : [
        "0",
        "27"
      ],
      "favorite_count" : "100",
      "id_str" : "1790000000000000002",
      "truncated" : false,
      "retweet_count" : "12",
      "id" : "1790000000000000002",
      "created_at" : "Sun May 12 08:30:05 +0000 2024",
      "favorited" : false,
      "full_text" : "فيديو حفل التخرج ٢٠٢٤ 🎓 https://t.co/V1de0XyZ",
      "lang" : "ar",
      "extended_entities" : {
        "media" : [
          {
            "expanded_url" : "https://twitter.com/alnoor_school/status/1790000000000000002/video/1",
            "indices" : [
              "24",
              "47"
            ],
            "url" : "https://t.co/V1de0XyZ",
            "media_url" : "http://pbs.twimg.com/ext_tw_video_thumb/1790000000000000200/pu/img/Thumb01.jpg",
            "id_str" : "1790000000000000200",
            "video_info" : {
              "aspect_ratio" : [
                "16",
                "9"
              ],
              "duration_millis" : "30033",
              "variants" : [
                {
                  "bitrate" : "832000",
                  "content_type" : "video/mp4",
                  "url" : "https://video.twimg.com/ext_tw_video/1790000000000000200/pu/vid/640x360/LowQ.mp4?tag=12"
                },
                {
                  "content_type" : "application/x-mpegURL",
                  "url" : "https://video.twimg.com/ext_tw_video/1790000000000000200/pu/pl/Play.m3u8?tag=12"
                },
                {
                  "bitrate" : "2176000",
                  "content_type" : "video/mp4",
                  "url" : "https://video.twimg.com/ext_tw_video/1790000000000000200/pu/vid/1280x720/HighQ.mp4?tag=12"
                },
                {
                  "bitrate" : "256000",
                  "content_type" : "video/mp4",
                  "url" : "https://video.twimg.com/ext_tw_video/1790000000000000200/pu/vid/480x270/TinyQ.mp4?tag=12"
                }
              ]
            },
            "id" : "1790000000000000200",
            "media_url_https" : "https://pbs.twimg.com/ext_tw_video_thumb/1790000000000000200/pu/img/Thumb01.jpg",
            "sizes" : {
              "large" : { "w" : "1280", "h" : "720", "resize" : "fit" }
            },
            "type" : "video",
            "display_url" : "pic.x.com/v1de0xyz"
          }
        ]
      }
    }
  },
  {
    "tweet" : {
      "retweeted" : false,
      "source" : "<a href=\"https://mobile.twitter.com\" rel=\"nofollow\">Twitter Web App</a>",
      "entities" : {
        "hashtags" : [ ],
        "symbols" : [ ],
        "user_mentions" : [
          {
            "name" : "ولي أمر",
            "screen_name" : "parent_sa",
            "indices" : [
              "0",
              "10"
            ],
            "id_str" : "987654321",
            "id" : "987654321"
          }
        ],
        "urls" : [ ]
      },
      "display_text_range" : [
        "0",
        "40"
      ],
      "favorite_count" : "0",
      "in_reply_to_status_id_str" : "1780000000000000009",
      "id_str" : "1790000000000000003",
      "in_reply_to_user_id" : "987654321",
      "truncated" : false,
      "retweet_count" : "0",
      "id" : "1790000000000000003",
      "in_reply_to_status_id" : "1780000000000000009",
      "created_at" : "Mon May 13 06:45:10 +0000 2024",
      "favorited" : false,
      "full_text" : "@parent_sa شكراً لكم، الدوام يبدأ الساعة ٧:٣٠ صباحاً 🙏",
      "lang" : "ar",
      "in_reply_to_screen_name" : "parent_sa",
      "in_reply_to_user_id_str" : "987654321"
    }
  },
  {
    "tweet" : {
      "retweeted" : false,
      "source" : "<a href=\"https://mobile.twitter.com\" rel=\"nofollow\">Twitter Web App</a>",
      "entities" : {
        "hashtags" : [ ],
        "symbols" : [ ],
        "user_mentions" : [
          {
            "name" : "وزارة التعليم",
            "screen_name" : "moe_gov_sa",
            "indices" : [
              "3",
              "14"
            ],
            "id_str" : "111111111",
            "id" : "111111111"
          }
        ],
        "urls" : [ ]
      },
      "display_text_range" : [
        "0",
        "60"
      ],
      "favorite_count" : "0",
      "id_str" : "1790000000000000004",
      "truncated" : false,
      "retweet_count" : "35",
      "id" : "1790000000000000004",
      "created_at" : "Mon May 13 09:00:00 +0000 2024",
      "favorited" : false,
      "full_text" : "RT @moe_gov_sa: بدء التسجيل للعام الدراسي ١٤٤٦هـ عبر منصة نور",
      "lang" : "ar"
    }
  },
  {
    "tweet" : {
      "retweeted" : false,
      "source" : "<a href=\"https://mobile.twitter.com\" rel=\"nofollow\">Twitter Web App</a>",
      "entities" : {
        "hashtags" : [ ],
        "symbols" : [ ],
        "user_mentions" : [ ],
        "urls" : [
          {
            "url" : "https://t.co/Qu0teLnk",
            "expanded_url" : "https://twitter.com/moe_gov_sa/status/1780000000000000777",
            "display_url" : "twitter.com/moe_gov_sa/sta…",
            "indices" : [
              "30",
              "53"
            ]
          }
        ]
      },
      "display_text_range" : [
        "0",
        "53"
      ],
      "favorite_count" : "5",
      "id_str" : "1790000000000000005",
      "truncated" : false,
      "retweet_count" : "1",
      "id" : "1790000000000000005",
      "created_at" : "Tue May 14 11:20:00 +0000 2024",
      "favorited" : false,
      "full_text" : "خبر مهم لأولياء الأمور 👇 https://t.co/Qu0teLnk",
      "lang" : "ar"
    }
  },
  {
    "tweet" : {
      "retweeted" : false,
      "source" : "<a href=\"https://mobile.twitter.com\" rel=\"nofollow\">Twitter Web App</a>",
      "entities" : {
        "hashtags" : [ ],
        "symbols" : [ ],
        "user_mentions" : [ ],
        "urls" : [
          {
            "url" : "https://t.co/Lng1Pst",
            "expanded_url" : "https://twitter.com/i/web/status/1790000000000000006",
            "display_url" : "twitter.com/i/web/status/1…",
            "indices" : [
              "256",
              "279"
            ]
          }
        ]
      },
      "display_text_range" : [
        "0",
        "279"
      ],
      "favorite_count" : "9",
      "id_str" : "1790000000000000006",
      "truncated" : false,
      "retweet_count" : "2",
      "id" : "1790000000000000006",
      "created_at" : "Wed May 15 09:15:00 +0000 2024",
      "favorited" : false,
      "full_text" : "تعلن إدارة مدرسة النور عن جدول الاختبارات النهائية للفصل الدراسي الثالث ١٤٤٥هـ، وتبدأ الاختبارات يوم الأحد ٢٦ مايو… https://t.co/Lng1Pst",
      "lang" : "ar"
    }
  },
  {
    "tweet" : {
      "retweeted" : false,
      "source" : "<a href=\"https://mobile.twitter.com\" rel=\"nofollow\">Twitter Web App</a>",
      "entities" : {
        "hashtags" : [ ],
        "symbols" : [ ],
        "user_mentions" : [ ],
        "urls" : [ ]
      },
      "display_text_range" : [
        "0",
        "60"
      ],
      "favorite_count" : "3",
      "id_str" : "1790000000000000007",
      "truncated" : false,
      "retweet_count" : "0",
      "id" : "1790000000000000007",
      "created_at" : "Thu May 16 07:00:00 +0000 2024",
      "favorited" : false,
      "full_text" : "تذكير: اجتماع أولياء الأمور يوم الخميس ٣٠ مايو في…",
      "lang" : "ar"
    }
  }
]
