window.YTD.profile.part0 = [
  {
    "profile" : {
      "description" : {
        "bio" : "الحساب الرسمي لمدرسة النور — تأسست عام ١٩٩٥ 📚",
        "website" : "https://t.co/Sch00lLnk",
        "location" : "الرياض"
      },
      "avatarMediaUrl" : "https://pbs.twimg.com/profile_images/1/avatar.jpg"
    }
  }
]
