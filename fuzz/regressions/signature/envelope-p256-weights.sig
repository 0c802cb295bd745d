{
  "payload": "eyJfdHlwZSI6Imh0dHBzOi8vaW4tdG90by5pby9TdGF0ZW1lbnQvdjEiLCJwcmVkaWNhdGUiOnsiY292ZXJzIjoid2VpZ2h0cyJ9LCJwcmVkaWNhdGVUeXBlIjoiaHR0cHM6Ly9vcGVud2VpZ2h0cy5vcmcvb3dmL3NpZ25hdHVyZS92MSIsInN1YmplY3QiOlt7ImRpZ2VzdCI6eyJzaGEyNTYiOiJiNjU0NzU4YjdlNzQwNGM5OTkxMGRlN2NlZmM0Yjc0MGFjNDM2YjU3ZWQ1Y2IyMDVmZGVmMGRkMjE4ODYwZTEzIn0sIm5hbWUiOiJtLm93ZiJ9XX0=",
  "payloadType": "application/vnd.in-toto+json",
  "signatures": [
    {
      "keyid": "3e19999e5e0d062e375dbf6181d9b212832981aaf7510c3b61956d1dfb209024",
      "sig": "MEUCIGvT1kXOn6CCdY5xXnVNiXQvHHne2pvuzivPvo/18+ESAiEAt8Stg+CKwe5GvP+xstRn09XYJf+xhsYa2k/WSvjNVA8="
    }
  ]
}
